"""HTTPS, DNS and the WAF on the emulator (issue 17): site.yml with a domain in a Route 53 zone.

One emulator of this module's own (moto + aws_rules.py: ACM issues the certificate only once its
validation record is in the zone, a listener takes only an issued certificate, a certificate in use
or an associated web ACL cannot be deleted). Environment `https`, so nothing collides with the
session's stack. create (certificate requested, validated through the zone, issued, on 443 with a
TLS 1.2+ policy; 80 redirects; alias A/AAAA records; web ACL on the load balancer) -> rerun
changed=0 -> --check changed=0 -> teardown removes records, certificate and web ACL -> again a
no-op. The tests run in file order.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from awsstack import ROOT, Emulator, Run, emulator_server, run_playbook
from test_stack import changed_tasks

ENV = "https"
NAME = f"stockroom-{ENV}"
DOMAIN = "stock.example.com"
SETTINGS = (
    "-e",
    f"stockroom_env={ENV}",
    "-e",
    f"stockroom_domain={DOMAIN}",
    "-e",
    "aws_compute_waf=true",
)
TIMINGS: dict[str, Any] = {}
STATE: dict[str, str] = {}


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """Our own emulator with the zone that serves the domain (and one it must not pick)."""
    with emulator_server(tmp_path_factory.mktemp("https") / "moto.log") as server:
        route53 = server.client("route53")
        for name in ("example.com", "other.example.com"):
            route53.create_hosted_zone(Name=name, CallerReference=f"test-https-{name}")
        yield server
    out = ROOT / "reports"
    out.mkdir(exist_ok=True)
    (out / "aws-https-timings.json").write_text(json.dumps(TIMINGS, indent=2) + "\n")


def run(emu: Emulator, playbook: str, *extra: str) -> Run:
    return run_playbook(emu, playbook, *SETTINGS, *extra)


def zone_id(emu: Emulator) -> str:
    zones = emu.client("route53").list_hosted_zones_by_name(DNSName="example.com")["HostedZones"]
    (found,) = [z for z in zones if z["Name"] == "example.com."]
    return str(found["Id"]).rsplit("/", 1)[-1]


def records(emu: Emulator) -> dict[tuple[str, str], dict[str, Any]]:
    sets = emu.client("route53").list_resource_record_sets(HostedZoneId=zone_id(emu))
    return {(r["Name"], r["Type"]): r for r in sets["ResourceRecordSets"]}


def certificates(emu: Emulator) -> list[dict[str, Any]]:
    acm = emu.client("acm")
    listed = acm.list_certificates()["CertificateSummaryList"]
    return [
        acm.describe_certificate(CertificateArn=c["CertificateArn"])["Certificate"]
        for c in listed
        if c["DomainName"] == DOMAIN
    ]


def load_balancer(emu: Emulator) -> dict[str, Any]:
    (lb,) = emu.client("elbv2").describe_load_balancers(Names=[NAME])["LoadBalancers"]
    return lb


def web_acls(emu: Emulator) -> list[dict[str, Any]]:
    acls = emu.client("wafv2").list_web_acls(Scope="REGIONAL")["WebACLs"]
    return [a for a in acls if a["Name"] == NAME]


@pytest.fixture(scope="module")
def fresh(emu: Emulator) -> Run:
    created = run(emu, "site.yml")
    assert created.rc == 0, created.output[-5000:]
    TIMINGS["fresh"] = {"seconds": round(created.seconds, 1), "changed": created.recap["changed"]}
    return created


def test_the_certificate_is_requested_validated_in_the_zone_and_issued(
    emu: Emulator, fresh: Run
) -> None:
    (cert,) = certificates(emu)
    assert cert["Status"] == "ISSUED" and cert["Type"] == "AMAZON_ISSUED"
    ((option),) = cert["DomainValidationOptions"]
    assert option["ValidationMethod"] == "DNS"
    record = option["ResourceRecord"]
    written = records(emu)[(record["Name"], "CNAME")]
    assert written["ResourceRecords"] == [{"Value": record["Value"]}]
    tags = emu.client("acm").list_tags_for_certificate(CertificateArn=cert["CertificateArn"])
    assert {t["Key"]: t["Value"] for t in tags["Tags"]}["Name"] == NAME


def test_443_serves_it_with_tls_1_2_and_80_redirects(emu: Emulator, fresh: Run) -> None:
    (cert,) = certificates(emu)
    lb = load_balancer(emu)
    listeners = emu.client("elbv2").describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])
    by_port = {li["Port"]: li for li in listeners["Listeners"]}
    assert sorted(by_port) == [80, 443]
    https = by_port[443]
    assert https["Protocol"] == "HTTPS"
    assert https["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert [c["CertificateArn"] for c in https["Certificates"]] == [cert["CertificateArn"]]
    assert https["DefaultActions"][0]["Type"] == "forward"
    (redirect,) = by_port[80]["DefaultActions"]
    assert redirect["Type"] == "redirect"
    config = redirect["RedirectConfig"]
    assert (config["Protocol"], config["Port"], config["StatusCode"]) == (
        "HTTPS",
        "443",
        "HTTP_301",
    )


def test_the_domain_points_at_the_load_balancer(emu: Emulator, fresh: Run) -> None:
    lb = load_balancer(emu)
    found = records(emu)
    for kind in ("A", "AAAA"):
        alias = found[(f"{DOMAIN}.", kind)]["AliasTarget"]
        assert alias["DNSName"].rstrip(".").lower() == lb["DNSName"].lower()
        assert alias["HostedZoneId"] == lb["CanonicalHostedZoneId"]
    other = emu.client("route53").list_hosted_zones_by_name(DNSName="other.example.com")
    (other_zone,) = [z for z in other["HostedZones"] if z["Name"] == "other.example.com."]
    assert other_zone["ResourceRecordSetCount"] == 2, "only the zone that serves the domain"


def test_the_waf_guards_the_load_balancer(emu: Emulator, fresh: Run) -> None:
    waf = emu.client("wafv2")
    (summary,) = web_acls(emu)
    acl = waf.get_web_acl(Name=NAME, Scope="REGIONAL", Id=summary["Id"])["WebACL"]
    attached = waf.get_web_acl_for_resource(ResourceArn=load_balancer(emu)["LoadBalancerArn"])
    assert attached["WebACL"]["ARN"] == acl["ARN"]
    assert acl["DefaultAction"] == {"Allow": {}}
    assert acl["VisibilityConfig"]["CloudWatchMetricsEnabled"] is True
    assert acl["VisibilityConfig"]["MetricName"] == NAME
    rules = {r["Name"]: r for r in acl["Rules"]}
    assert list(rules) == [
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "login-rate",
    ]
    for name in ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"):
        group = rules[name]["Statement"]["ManagedRuleGroupStatement"]
        assert (group["VendorName"], group["Name"]) == ("AWS", name)
    assert all(r["VisibilityConfig"]["CloudWatchMetricsEnabled"] for r in rules.values())
    assert [r["VisibilityConfig"]["MetricName"] for r in rules.values()] == [
        f"{NAME}-common",
        f"{NAME}-bad-inputs",
        f"{NAME}-login-rate",
    ]
    rate = rules["login-rate"]
    assert rate["Action"] == {"Block": {}}
    statement = rate["Statement"]["RateBasedStatement"]
    assert statement["AggregateKeyType"] == "IP" and statement["Limit"] == 100
    matches = statement["ScopeDownStatement"]["AndStatement"]["Statements"]
    assert {
        (
            next(iter(m["RegexMatchStatement"]["FieldToMatch"])),
            m["RegexMatchStatement"]["RegexString"],
        )
        for m in matches
    } == {("UriPath", "^/login/?$"), ("Method", "^POST$")}


def test_the_summary_gives_the_https_address(fresh: Run) -> None:
    assert f"Stockroom: https://{DOMAIN}/" in fresh.output
    assert "http:// redirects to https://" in fresh.output
    assert f"WAF: web ACL {NAME}" in fresh.output


def test_rerun_changes_nothing(emu: Emulator, fresh: Run) -> None:
    again = run(emu, "site.yml")
    assert again.rc == 0, again.output[-5000:]
    TIMINGS["rerun"] = {"seconds": round(again.seconds, 1), "changed": again.recap["changed"]}
    assert again.recap["changed"] == 0, changed_tasks(again)
    assert len(certificates(emu)) == 1, "a rerun requests no second certificate"


def test_check_mode_changes_nothing(emu: Emulator, fresh: Run) -> None:
    check = run(emu, "site.yml", "--check")
    assert check.rc == 0, check.output[-5000:]
    TIMINGS["check"] = {"seconds": round(check.seconds, 1), "changed": check.recap["changed"]}
    assert check.recap["changed"] == 0, changed_tasks(check)


def test_a_given_certificate_is_served_instead(emu: Emulator, fresh: Run) -> None:
    """aws_compute_certificate_arn instead of the requested one: served on 443, nothing requested;
    back without it, the requested one again. The teardown then leaves the operator's."""
    acm = emu.client("acm")
    arn = acm.request_certificate(DomainName=DOMAIN, ValidationMethod="DNS")["CertificateArn"]
    STATE["given"] = arn
    deadline = time.monotonic() + 30
    # The same domain, the same validation record (as on AWS): already in the zone.
    while acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"] != "ISSUED":
        assert time.monotonic() < deadline, "the emulator issues it once the record is in the zone"
        time.sleep(1)
    given = run(emu, "playbooks/compute.yml", "-e", f"aws_compute_certificate_arn={arn}")
    assert given.rc == 0, given.output[-5000:]
    assert https_certificates(emu) == [arn]
    assert len(certificates(emu)) == 2, "nothing requested"
    back = run(emu, "playbooks/compute.yml")
    assert back.rc == 0, back.output[-5000:]
    assert https_certificates(emu) != [arn]


def https_certificates(emu: Emulator) -> list[str]:
    lb = load_balancer(emu)
    listeners = emu.client("elbv2").describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])
    (https,) = [li for li in listeners["Listeners"] if li["Port"] == 443]
    return [c["CertificateArn"] for c in https["Certificates"]]


def test_teardown_removes_records_certificate_and_web_acl(emu: Emulator, fresh: Run) -> None:
    """The listener uses the certificate until the load balancer is gone (AWS refuses to delete a
    certificate in use, and a web ACL still associated: aws_rules.py)."""
    down = run(emu, "playbooks/teardown.yml")
    assert down.rc == 0, down.output[-5000:]
    TIMINGS["teardown"] = {"seconds": round(down.seconds, 1), "changed": down.recap["changed"]}
    assert [c["CertificateArn"] for c in certificates(emu)] == [STATE["given"]], (
        "not the operator's"
    )
    assert web_acls(emu) == []
    assert sorted(records(emu)) == [("example.com.", "NS"), ("example.com.", "SOA")]
    assert emu.client("elbv2").describe_load_balancers()["LoadBalancers"] == []
    again = run(emu, "playbooks/teardown.yml")
    assert again.rc == 0, again.output[-5000:]
    assert again.recap["changed"] == 0, changed_tasks(again)
