#!/usr/bin/env python3
"""Sanity-checks generated Strimzi CRDs: apiextensions.k8s.io/v1 CRDs in group
kafka.strimzi.io with the expected plural names, exactly one storage version,
and an object-typed openAPIV3Schema on every version.
Usage: check-crds.py FILE... ; prints one summary line per CRD."""
import sys
import yaml

EXPECTED = {"kafkas", "kafkanodepools", "kafkatopics"}
seen, errors = set(), []
for path in sys.argv[1:]:
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    for d in docs:
        where = f"{path}: {d.get('metadata', {}).get('name')}"
        if d.get("apiVersion") != "apiextensions.k8s.io/v1" or d.get("kind") != "CustomResourceDefinition":
            errors.append(f"{where}: not an apiextensions.k8s.io/v1 CustomResourceDefinition")
            continue
        spec = d["spec"]
        plural = spec["names"]["plural"]
        seen.add(plural)
        if spec.get("group") != "kafka.strimzi.io":
            errors.append(f"{where}: group {spec.get('group')!r}")
        if d["metadata"]["name"] != f"{plural}.{spec['group']}":
            errors.append(f"{where}: name does not match plural.group")
        versions = spec.get("versions") or []
        if sum(1 for v in versions if v.get("storage")) != 1:
            errors.append(f"{where}: needs exactly one storage version")
        for v in versions:
            schema = (v.get("schema") or {}).get("openAPIV3Schema") or {}
            if schema.get("type") != "object":
                errors.append(f"{where}: version {v.get('name')} has no object openAPIV3Schema")
        served = ",".join(v["name"] for v in versions if v.get("served"))
        storage = ",".join(v["name"] for v in versions if v.get("storage"))
        print(f"{d['metadata']['name']}: kind={spec['names']['kind']} served={served} storage={storage}")
missing = EXPECTED - seen
if missing:
    errors.append(f"missing CRDs: {sorted(missing)}")
for e in errors:
    print("ERROR:", e, file=sys.stderr)
sys.exit(1 if errors else 0)
