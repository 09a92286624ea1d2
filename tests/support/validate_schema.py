"""Validates JSON documents against spec/manifest-v1.schema.json, or the schema named by the
optional second argument (a file in spec/, or an absolute path; tool-pins.schema.json registered
under its $id), using the reference `jsonschema` implementation and the draft the schema's own
`$schema` names (2020-12 when it names none).
Input on stdin: {"accept": {NAME: DOC}, "reject": {NAME: DOC}}. Prints one line per document that
does not get the expected outcome and exits 1 if there was any."""
import json
import pathlib
import sys

from jsonschema import Draft202012Validator
from jsonschema.validators import validator_for
from referencing import Registry, Resource

spec = pathlib.Path(sys.argv[1])
manifest = json.loads((spec / "manifest-v1.schema.json").read_text())
pins = json.loads((spec / "tool-pins.schema.json").read_text())
Draft202012Validator.check_schema(manifest)
Draft202012Validator.check_schema(pins)
registry = Registry().with_resources([
    (manifest["$id"], Resource.from_contents(manifest)),
    (pins["$id"], Resource.from_contents(pins)),
])
top = manifest
if len(sys.argv) > 2:
    top = json.loads((spec / sys.argv[2]).read_text())
Validator = validator_for(top, default=Draft202012Validator)
Validator.check_schema(top)
validator = Validator(top, registry=registry)
docs = json.load(sys.stdin)
bad = 0
for name, doc in docs["accept"].items():
    errors = list(validator.iter_errors(doc))
    if errors:
        bad += 1
        print(f"{name}: should validate but: {errors[0].message} at {list(errors[0].absolute_path)}")
for name, doc in docs["reject"].items():
    if validator.is_valid(doc):
        bad += 1
        print(f"{name}: should NOT validate")
print(f"{len(docs['accept'])} accepted, {len(docs['reject'])} rejected, {bad} wrong", file=sys.stderr)
sys.exit(1 if bad else 0)
