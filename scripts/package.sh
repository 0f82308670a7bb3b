#!/usr/bin/env bash
# Release packaging: build the krew archive of one platform, and render the krew manifest.
#
#   scripts/package.sh archive [--target TRIPLE] [--binary PATH] [--version vX.Y.Z] [--out DIR]
#       Packs DIR/kubectl-modelroll_<version>_<os>_<arch>.tar.gz (.zip for Windows) holding the
#       binary, LICENSE and README.md, and writes its sha256 beside it (<archive>.sha256).
#       Without --binary it first runs `cargo build --release --locked [--target TRIPLE]`.
#       TRIPLE defaults to the host's; --version to v<version of Cargo.toml>; DIR to dist.
#       Prints the archive's path and sha256.
#
#   scripts/package.sh manifest --version vX.Y.Z [--base-url URL] [--dist DIR] [--out FILE]
#       Renders krew/modelroll.yaml for that version: each platform's uri is
#       URL/<archive name> and its sha256 that of DIR/<archive name>. Every platform's archive
#       must be in DIR (the release workflow builds them all). URL defaults to the GitHub
#       release download URL named in the template; the manifest goes to FILE or stdout.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
template="$root/krew/modelroll.yaml"

die() { echo "package.sh: $*" >&2; exit 2; }

sha256() {
  if command -v sha256sum >/dev/null; then sha256sum "$1" | cut -d' ' -f1
  else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

cargo_version() {
  sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -1
}

# krew's os/arch for a Rust target triple.
platform_of() {
  local os arch
  case "$1" in
    x86_64-*) arch=amd64 ;;
    aarch64-*) arch=arm64 ;;
    *) die "no krew arch for target $1 (supported: x86_64, aarch64)" ;;
  esac
  case "$1" in
    *-linux-*) os=linux ;;
    *-apple-darwin) os=darwin ;;
    *-windows-*) os=windows ;;
    *) die "no krew os for target $1 (supported: linux, apple-darwin, windows)" ;;
  esac
  echo "${os}_${arch}"
}

check_version() {
  [[ "$1" =~ ^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$ ]] \
    || die "version $1 is not a v-prefixed semantic version such as v0.1.0"
}

zip_dir() { # zip_dir ARCHIVE DIR: the files of DIR at the archive's top level
  local archive="$1" dir="$2"
  if command -v zip >/dev/null; then (cd "$dir" && zip -q -X "$archive" ./*)
  elif command -v 7z >/dev/null; then (cd "$dir" && 7z a -tzip -bd "$archive" ./* >/dev/null)
  else
    local python; python="$(command -v python3 || command -v python)" || die "need zip, 7z or python to make a .zip"
    (cd "$dir" && "$python" -m zipfile -c "$archive" ./*)
  fi
}

archive() {
  local target="" binary="" version="" out="$root/dist"
  while [ $# -gt 0 ]; do
    case "$1" in
      --target) target="$2"; shift 2 ;;
      --binary) binary="$2"; shift 2 ;;
      --version) version="$2"; shift 2 ;;
      --out) out="$2"; shift 2 ;;
      *) die "archive: unknown argument $1" ;;
    esac
  done
  [ -n "$target" ] || target="$(rustc -vV | sed -n 's/^host: //p')"
  [ -n "$version" ] || version="v$(cargo_version)"
  check_version "$version"
  local platform; platform="$(platform_of "$target")"
  local exe=kubectl-modelroll ext=tar.gz
  if [[ "$platform" == windows_* ]]; then exe=kubectl-modelroll.exe; ext=zip; fi

  if [ -z "$binary" ]; then
    (cd "$root" && cargo build --release --locked --target "$target")
    binary="$root/target/$target/release/$exe"
  fi
  [ -f "$binary" ] || die "binary $binary does not exist"

  mkdir -p "$out"
  out="$(cd "$out" && pwd)"
  local name="kubectl-modelroll_${version}_${platform}.${ext}"
  local staging; staging="$(mktemp -d)"
  trap 'rm -rf "$staging"' RETURN
  cp "$binary" "$staging/$exe"
  chmod 0755 "$staging/$exe"
  cp "$root/LICENSE" "$root/README.md" "$staging/"
  rm -f "$out/$name"
  if [ "$ext" = zip ]; then
    zip_dir "$out/$name" "$staging"
  else
    tar -czf "$out/$name" -C "$staging" "$exe" LICENSE README.md
  fi
  local sum; sum="$(sha256 "$out/$name")"
  echo "$sum  $name" > "$out/$name.sha256"
  echo "$out/$name $sum"
}

manifest() {
  local version="" base_url="" dist="$root/dist" out=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --version) version="$2"; shift 2 ;;
      --base-url) base_url="${2%/}"; shift 2 ;;
      --dist) dist="$2"; shift 2 ;;
      --out) out="$2"; shift 2 ;;
      *) die "manifest: unknown argument $1" ;;
    esac
  done
  [ -n "$version" ] || die "manifest: --version vX.Y.Z is required"
  check_version "$version"

  local rendered="" line missing=()
  while IFS= read -r line || [ -n "$line" ]; do
    line="${line//\{\{ .TagName \}\}/$version}"
    if [[ "$line" =~ ^([[:space:]]*)\{\{addURIAndSha\ \"([^\"]+)\"\ \.TagName\ \}\}[[:space:]]*$ ]]; then
      local indent="${BASH_REMATCH[1]}" url="${BASH_REMATCH[2]}"
      local name="${url##*/}"
      [ -z "$base_url" ] || url="$base_url/$name"
      if [ ! -f "$dist/$name" ]; then missing+=("$dist/$name"); continue; fi
      rendered+="${indent}uri: ${url}"$'\n'"${indent}sha256: $(sha256 "$dist/$name")"$'\n'
    elif [[ "$line" =~ ^# ]]; then
      continue # the template's own comments
    else
      rendered+="$line"$'\n'
    fi
  done < "$template"
  [ ${#missing[@]} -eq 0 ] || die "manifest: missing archives (build them with 'scripts/package.sh archive'): ${missing[*]}"

  if [ -n "$out" ]; then printf '%s' "$rendered" > "$out"; else printf '%s' "$rendered"; fi
}

case "${1:-}" in
  archive) shift; archive "$@" ;;
  manifest) shift; manifest "$@" ;;
  *) sed -n '2,16s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
esac
