"""Emit the OpenAPI document from the flask-smorest app, deterministically.

The schemas and blueprints own the HTTP contract; this turns them into ``api/openapi.yaml``
(paths relative to the ``/torc-service/v1`` server URL, keys sorted, no timestamps), without a
database or a running server. ``python -m torc.api.openapi -o FILE`` writes it.
"""

import argparse
import sys

import yaml

from torc.api.base import BASE_PATH

DEFAULT_SERVER_URL = "http://localhost:8080" + BASE_PATH


def build_spec() -> dict:
    from torc.api.app import create_app

    spec = create_app().extensions["torc_api"].spec.to_dict()
    spec["paths"] = {path[len(BASE_PATH):]: item for path, item in spec["paths"].items()}
    spec["servers"] = [{"url": DEFAULT_SERVER_URL, "description": "A torc server (set TORC_API_URL)"}]
    # The server rejects unknown fields in request bodies (422), but the document must not say
    # ``additionalProperties: false``: the models double as responses, and generated clients would
    # then refuse answers from a newer server that added a field.
    for schema in spec["components"]["schemas"].values():
        schema.pop("additionalProperties", None)
    return spec


class _NoAliasDumper(yaml.SafeDumper):
    """Write shared lists (e.g. the job status enum) out in full instead of as YAML anchors."""

    def ignore_aliases(self, data):
        return True


def render_yaml(spec: dict) -> str:
    return yaml.dump(spec, Dumper=_NoAliasDumper, sort_keys=True, default_flow_style=False, allow_unicode=True, width=100)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", help="file to write (default: standard output)")
    args = parser.parse_args(argv)
    text = render_yaml(build_spec())
    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
