#!/usr/bin/env bash
# Keep the checked-in OpenAPI document and the generated clients in step with the server code.
#
# The server code (torc/api) owns the HTTP contract. api/openapi.yaml is the checked-in copy of
# what it emits; torc/openapi_client/ (Python) and julia_client/ (Julia) are generated from that
# copy by OpenAPI Generator (PyPI openapi-generator-cli, bundled jar, Java 17, offline) and are
# never edited by hand: customise them through api/openapi-generator/ only.
#
# Usage: api/sync_openapi.sh COMMAND
#   emit                          write the spec the server code emits to api/.work/openapi.emitted.yaml
#   check                         fail (with a diff) if api/openapi.yaml differs from the emitted spec
#                                 or the checked-in clients differ from a fresh generation
#   promote                       copy the emitted spec over api/openapi.yaml
#   clients [--use-emitted-spec]  regenerate both clients from api/openapi.yaml (or the emitted spec)
#   all --promote                 emit, promote, clients: the usual step after changing the server
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [[ -x .venv/bin/python ]]; then PY=.venv/bin/python; else PY=python3; fi
SPEC=api/openapi.yaml
WORK=api/.work
EMITTED=$WORK/openapi.emitted.yaml
CONFIG=api/openapi-generator
PY_CLIENT=torc/openapi_client
JL_CLIENT=julia_client
# Short-lived JVMs start faster without the optimising JIT.
JAVA_FLAGS=(-XX:TieredStopAtLevel=1 -Xshare:auto)

die() { echo "sync_openapi.sh: $*" >&2; exit 1; }

# A scratch folder under api/.work, removed when the script exits.
TMP=
trap 'if [[ -n $TMP ]]; then rm -rf "$TMP"; fi' EXIT
scratch() { mkdir -p "$WORK" && TMP=$(mktemp -d "$WORK/$1.XXXXXX"); }

usage() { sed -n '9,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

emit() {
    mkdir -p "$WORK"
    "$PY" -m torc.api.openapi -o "$EMITTED.tmp"
    mv "$EMITTED.tmp" "$EMITTED"
    echo "emitted $EMITTED"
}

# Read, don't import, the version constant: importing torc is not needed for one string.
api_version() {
    "$PY" -c 'import runpy; print(runpy.run_path("torc/api_version.py")["API_VERSION"])'
}

generator_jar() {
    "$PY" -c 'import importlib.resources as r; print(r.files("openapi_generator_cli") / "openapi-generator.jar")' 2>/dev/null \
        || die "openapi-generator-cli is missing: $PY -m pip install openapi-generator-cli==7.26.0 (it is in the dev extra)"
}

# generate SPEC OUT: write the final layout of both clients to OUT/openapi_client and OUT/julia_client.
generate() {
    local spec=$1 out=$2 jar version py_pid jl_pid
    command -v java >/dev/null || die "java (17+) is needed to run OpenAPI Generator"
    jar=$(generator_jar)
    version=$(api_version)
    rm -rf "$out" && mkdir -p "$out"
    # The two generators run in parallel; each log is shown only if it fails.
    java "${JAVA_FLAGS[@]}" -jar "$jar" generate -c "$CONFIG/python.yaml" -i "$spec" -o "$out/python" \
        --additional-properties "packageVersion=$version" >"$out/python.log" 2>&1 &
    py_pid=$!
    java "${JAVA_FLAGS[@]}" -jar "$jar" generate -c "$CONFIG/julia.yaml" -i "$spec" -o "$out/julia" \
        >"$out/julia.log" 2>&1 &
    jl_pid=$!
    wait "$py_pid" || { cat "$out/python.log" >&2; die "Python client generation failed"; }
    wait "$jl_pid" || { cat "$out/julia.log" >&2; die "Julia client generation failed"; }

    # Keep what we use, dropping whole files and folders only (never edit generated content).
    mv "$out/python/torc/openapi_client" "$out/openapi_client"
    mv "$out/julia" "$out/julia_client"
    rm -rf "$out/python" "$out/julia_client/.openapi-generator" "$out/julia_client/.openapi-generator-ignore"
    cp "$CONFIG/julia_client_README.md" "$out/julia_client/README.md"
}

# same_tree CHECKED_IN FRESH NAME: report and return 1 if the trees differ (ignoring bytecode).
same_tree() {
    local report
    if report=$(diff -r -q -x __pycache__ -x '*.pyc' "$1" "$2" 2>&1); then
        return 0
    fi
    echo "$3 is out of date with $SPEC ($(wc -l <<<"$report") differences):" >&2
    head -n 40 <<<"$report" >&2
    return 1
}

check() {
    local failed=0
    emit >/dev/null
    if ! cmp -s "$SPEC" "$EMITTED"; then
        echo "$SPEC differs from the spec the server code emits (first 80 lines of the diff):" >&2
        diff -u --label "$SPEC (checked in)" --label "emitted by torc.api.openapi" "$SPEC" "$EMITTED" | head -n 80 >&2 || true
        failed=1
    fi
    scratch check
    generate "$SPEC" "$TMP"
    same_tree "$PY_CLIENT" "$TMP/openapi_client" "$PY_CLIENT" || failed=1
    same_tree "$JL_CLIENT" "$TMP/julia_client" "$JL_CLIENT" || failed=1
    if ((failed)); then
        echo "fix: bash api/sync_openapi.sh all --promote   (then review and commit the changes)" >&2
        return 1
    fi
    echo "OK: $SPEC matches the server code and the generated clients match $SPEC"
}

promote() {
    [[ -f $EMITTED ]] || die "nothing emitted yet: run 'emit' first"
    cp "$EMITTED" "$SPEC"
    echo "promoted $EMITTED -> $SPEC"
}

clients() {
    local spec=$SPEC
    case "${1-}" in
        "") ;;
        --use-emitted-spec) emit >/dev/null; spec=$EMITTED ;;
        *) usage ;;
    esac
    scratch clients
    generate "$spec" "$TMP"
    rm -rf "$PY_CLIENT" "$JL_CLIENT"
    cp -R "$TMP/openapi_client" "$PY_CLIENT"
    cp -R "$TMP/julia_client" "$JL_CLIENT"
    echo "generated $PY_CLIENT and $JL_CLIENT from $spec"
}

case "${1-}" in
    emit) emit ;;
    check) check ;;
    promote) promote ;;
    clients) shift; clients "$@" ;;
    all)
        [[ "${2-}" == --promote ]] || die "'all' overwrites $SPEC: say 'all --promote'"
        emit && promote && clients
        ;;
    *) usage ;;
esac
