// Behaviour the pages need, kept out of the HTML: the Content-Security-Policy allows no inline
// script. A form with data-confirm="question" is submitted only after the user confirms.
document.addEventListener("submit", (event) => {
  const question = event.target.dataset ? event.target.dataset.confirm : undefined;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
