#!/usr/bin/env bash
# The tutorial's "Try it" commands, run as written (CI runs this file).
# Run from the repository root, with `mlem`, `pip` and `python` of one venv
# first on PATH. WORK and PORT may be set; the defaults are these:
set -euo pipefail
WORK=${WORK:-/tmp/mlem-demo}
PORT=${PORT:-8000}
fails() { if "$@"; then echo "expected to fail: $*" >&2; exit 1; fi; }

# a MLEM project to publish, and a registry to link from
rm -rf "$WORK" && mkdir -p "$WORK/www" "$WORK/registry"
cp -r examples/data/team-project "$WORK/www/churn"
(cd "$WORK/registry" && mlem init)

# install the plugin and serve the project
pip install --quiet ./docs/examples/mlem-static
mlem plugins | grep static
python -m http.server --bind 127.0.0.1 "$PORT" --directory "$WORK/www" \
    >/dev/null 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
sleep 1

# link, read, list, fetch
cd "$WORK/registry"
mlem link --sp "static+http://127.0.0.1:$PORT/churn" latest churn
cat churn.mlem
mlem show churn | head -3
mlem ls "static+http://127.0.0.1:$PORT/churn"
mlem get churn -o "$WORK/deploy"

# errors are one line each
fails mlem show --rev v1 --project "static+http://127.0.0.1:$PORT/churn" latest
kill $SERVER && wait $SERVER 2>/dev/null || true
fails mlem show churn

# build the distribution you would publish (then: twine upload dist/*)
cd - >/dev/null
pip wheel --quiet --no-deps --wheel-dir "$WORK/dist" ./docs/examples/mlem-static
ls "$WORK/dist"

# without the plugin, the same link fails with one clear line
pip uninstall --quiet --yes mlem-static
fails mlem show --project "static+http://127.0.0.1:$PORT/churn" latest
echo "try-it: all steps ran"
