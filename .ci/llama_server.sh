#!/usr/bin/env bash
# Build llama.cpp's own llama-server from the llama.cpp that llama-cpp-python vendors (the version pinned in
# .ci/constraints.txt), so CI runs tests/test_engine_timings.py's end-to-end test against it instead of skipping
# it. Prints the binary's path. About 5 minutes on 2 cores (AMD EPYC) plus the 75 MB source download.
set -eo pipefail
cd "$(dirname "$0")/.."
version=$(sed -n 's/^llama[-_]cpp[-_]python==//p' .ci/constraints.txt)
out=.ci-build/llama-server-$version
if [ ! -x "$out/bin/llama-server" ]; then
  src=$(mktemp -d)
  log="$src/build.log"
  python3 -m pip download -q --no-deps --no-binary :all: "llama-cpp-python==$version" -d "$src" >"$log" 2>&1 \
    || { tail -20 "$log" >&2; exit 1; }
  tar xzf "$src/llama_cpp_python-$version.tar.gz" -C "$src"
  generator=()
  if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
  if ! { cmake -S "$src/llama_cpp_python-$version/vendor/llama.cpp" -B "$out" "${generator[@]}" \
           -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
           -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON \
         && cmake --build "$out" --target llama-server -j "$(nproc)"; } >>"$log" 2>&1; then
    echo "error: building llama-server failed; the end of $log:" >&2
    tail -40 "$log" >&2
    exit 1
  fi
  rm -rf "$src"
fi
echo "$PWD/$out/bin/llama-server"
