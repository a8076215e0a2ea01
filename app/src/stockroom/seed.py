"""Realistic demo data, inserted in bulk (multi-row INSERTs) so 100 000 items take seconds."""

from __future__ import annotations

import random
from decimal import Decimal

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Engine

from stockroom.models import Item, Movement, utcnow

CATEGORIES = {
    "FAST": ("Fasteners", ["Hex bolt", "Wood screw", "Washer", "Lock nut", "Rivet", "Anchor"]),
    "ELEC": ("Electrical", ["Cable tie", "Wire nut", "Fuse", "Relay", "Terminal block", "Switch"]),
    "PLMB": ("Plumbing", ["Elbow fitting", "Ball valve", "Hose clamp", "Gasket", "Pipe tee"]),
    "TOOL": ("Tools", ["Drill bit", "Saw blade", "Screwdriver", "Socket", "Utility knife"]),
    "SAFE": (
        "Safety",
        ["Nitrile gloves", "Safety glasses", "Ear plugs", "Dust mask", "Hi-vis vest"],
    ),
    "PACK": (
        "Packaging",
        ["Carton", "Stretch film", "Packing tape", "Bubble wrap", "Pallet label"],
    ),
    "CLEN": ("Cleaning", ["Degreaser", "Shop towel", "Absorbent pad", "Mop head", "Spray bottle"]),
    "PAIN": ("Paint", ["Primer", "Enamel", "Roller", "Brush", "Masking tape", "Thinner"]),
}
SIZES = [
    "M4",
    "M5",
    "M6",
    "M8",
    "M10",
    "10 mm",
    "25 mm",
    "50 mm",
    "1/4in",
    "1/2in",
    "small",
    "large",
]
FINISH = ["zinc", "stainless", "black", "brass", "blue", "red", "white", "heavy duty", "standard"]
UNITS = ["pcs", "pcs", "pcs", "box", "roll", "pair", "l", "m"]
LOCATIONS = [f"{aisle}-{bay:02d}" for aisle in "ABCDEFGH" for bay in range(1, 7)]
CHUNK = 5000


def seed(engine: Engine, n_items: int, rng_seed: int = 42) -> tuple[int, int]:
    """Insert n_items items with their movements; returns (items, movements) inserted."""
    rng = random.Random(rng_seed)  # noqa: S311 - demo data, not security
    items_t, moves_t = Item.__table__, Movement.__table__
    codes = list(CATEGORIES)
    moves_total = 0
    with engine.connect() as conn:
        start = conn.execute(select(func.coalesce(func.max(items_t.c.id), 0))).scalar_one() + 1
        for base in range(0, n_items, CHUNK):
            now = utcnow()
            items, plans = [], []
            for n in range(start + base, start + min(base + CHUNK, n_items)):
                code = rng.choice(codes)
                category, nouns = CATEGORIES[code]
                received = rng.choice([0, 5, 10, 20, 50, 100, 200, 500]) + rng.randint(0, 40)
                shipped = rng.randint(0, received) if rng.random() < 0.4 else 0
                sku = f"{code}-{n:07d}"
                items.append(
                    {
                        "sku": sku,
                        "name": f"{rng.choice(nouns)} {rng.choice(SIZES)} {rng.choice(FINISH)}",
                        "description": "",
                        "category": category,
                        "location": rng.choice(LOCATIONS),
                        "unit": rng.choice(UNITS),
                        "quantity": received - shipped,
                        "reorder_level": rng.choice([0, 5, 10, 20, 25, 50]),
                        "unit_cost": Decimal(rng.randint(5, 50000)) / 100,
                        "version": 1 + (received > 0) + (shipped > 0),
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                plans.append((sku, received, shipped))
            conn.execute(insert(items_t), items)
            ids = dict(
                conn.execute(
                    select(items_t.c.sku, items_t.c.id).where(
                        items_t.c.sku.in_([p[0] for p in plans])
                    )
                ).all()
            )
            moves = []
            for sku, received, shipped in plans:
                if received:
                    moves.append(_move(ids[sku], received, "receive", received, now))
                if shipped:
                    moves.append(_move(ids[sku], -shipped, "ship", received - shipped, now))
            if moves:
                conn.execute(insert(moves_t), moves)
            conn.commit()
            moves_total += len(moves)
    return n_items, moves_total


def _move(item_id: int, delta: int, reason: str, after: int, now: object) -> dict[str, object]:
    return {
        "item_id": item_id,
        "delta": delta,
        "reason": reason,
        "note": "seed",
        "quantity_after": after,
        "username": "seed",
        "created_at": now,
    }
