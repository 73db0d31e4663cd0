"""Plays the original system's purchase-event producer for the tests.

Written for shopstream's tests (processor/tests/original_contract_e2e.rs),
not taken from the original: each event is built by the rules of the
original's `PurchaseEventGenerator.generate_event` (its catalogue, uniform
choices, per-segment quantities and discounts, rounding, field order) and
serialised with `json.dumps` (its defaults: ASCII-only with `\\uXXXX`
escapes, `", "` and `": "` separators), record key = user_id in UTF-8,
sent with kafka-python as the original did.

Two differences, both for the test's sake: the events are deterministic
from --seed (a `random.Random(seed)` instead of the global generator), and
event time is simulated from --start instead of `datetime.now()`: event i
is stamped at a random microsecond of [start + i * --step-ms, + one step),
and about a quarter of the events on the whole second before it (for which
`isoformat()` writes no fraction at all). Event ids follow the original's
`evt_<unix seconds>_<1000-9999>` (they can collide, as the original's do).

`--close` then sends one event stamped a day after the last to every
partition of the topic, so that every window of the data closes.

Prints one line `sent N events` and exits 0 once every record was
acknowledged; exits 1 otherwise.
"""

import argparse
import json
import random
import sys
from datetime import datetime, timedelta, timezone

from kafka import KafkaProducer

CATALOGUE = [
    (1, "ノートPC", "electronics", 89800),
    (2, "ワイヤレスマウス", "electronics", 2980),
    (3, "コーヒー豆", "food", 1200),
    (4, "ビジネス書", "books", 1680),
    (5, "スマートフォン", "electronics", 78900),
    (6, "ヘッドフォン", "electronics", 15800),
    (7, "グリーンティー", "food", 980),
    (8, "プログラミング本", "books", 3200),
]
SEGMENTS = ["premium", "regular", "new"]
REGIONS = ["Tokyo", "Osaka", "Nagoya", "Fukuoka", "Sapporo"]
DEVICES = ["web", "mobile", "tablet"]
PAYMENT_METHODS = ["credit_card", "bank_transfer", "digital_wallet"]

# Quantity range and discount range per segment, as the original buys.
BEHAVIOUR = {
    "premium": ((1, 5), (0.05, 0.15)),
    "regular": ((1, 3), (0.0, 0.10)),
    "new": ((1, 1), (0.10, 0.20)),
}


def purchase(rng, when):
    """One event dict, keys in the original's order."""
    product_id, name, category, price = rng.choice(CATALOGUE)
    segment = rng.choice(SEGMENTS)
    (low_q, high_q), (low_d, high_d) = BEHAVIOUR[segment]
    quantity = rng.randint(low_q, high_q) if high_q > low_q else low_q
    rate = rng.uniform(low_d, high_d)
    base = price * quantity
    discount = base * rate
    return {
        "event_id": "evt_%d_%d" % (int(when.timestamp()), rng.randint(1000, 9999)),
        "timestamp": when.isoformat(),
        "user_id": "user_%d" % rng.randint(1, 10000),
        "user_segment": segment,
        "product_id": product_id,
        "product_name": name,
        "category": category,
        "quantity": quantity,
        "unit_price": price,
        "base_amount": base,
        "discount_rate": round(rate, 3),
        "discount_amount": round(discount, 2),
        "final_amount": round(base - discount, 2),
        "region": rng.choice(REGIONS),
        "device": rng.choice(DEVICES),
        "payment_method": rng.choice(PAYMENT_METHODS),
    }


def event_time(rng, start, step_ms, i):
    """start + i steps + a random part of a step, in microseconds; about a
    quarter of the times cut to the whole second (at most 1 s back)."""
    when = start + timedelta(microseconds=step_ms * 1000 * i + rng.randrange(step_ms * 1000))
    if rng.random() < 0.25:
        return when.replace(microsecond=0)
    return when


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bootstrap-servers", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--start", required=True, help="ISO time of the first event, UTC")
    parser.add_argument("--step-ms", type=int, default=400)
    parser.add_argument("--close", action="store_true")
    args = parser.parse_args()

    start = datetime.fromisoformat(args.start.replace("Z", "+00:00")).astimezone(timezone.utc)
    rng = random.Random(args.seed)
    producer = KafkaProducer(
        bootstrap_servers=args.bootstrap_servers.split(","),
        value_serializer=lambda value: json.dumps(value).encode("utf-8"),
        key_serializer=lambda key: key.encode("utf-8"),
        acks="all",
        retries=3,
        linger_ms=1,
    )
    futures = []
    last = start
    for i in range(args.count):
        last = event_time(rng, start, args.step_ms, i)
        event = purchase(rng, last)
        futures.append(producer.send(args.topic, value=event, key=event["user_id"]))
    if args.close:
        closing = (last + timedelta(days=1)).replace(microsecond=0)
        for partition in sorted(producer.partitions_for(args.topic)):
            event = purchase(rng, closing)
            futures.append(
                producer.send(args.topic, value=event, key=event["user_id"], partition=partition)
            )
    producer.flush(timeout=60)
    failed = 0
    for future in futures:
        try:
            future.get(timeout=60)
        except Exception as error:  # noqa: BLE001 - every failure is reported
            failed += 1
            if failed <= 5:
                print("send failed: %r" % (error,), file=sys.stderr)
    producer.close(timeout=10)
    if failed:
        print("%d of %d sends failed" % (failed, len(futures)), file=sys.stderr)
        return 1
    print("sent %d events" % len(futures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
