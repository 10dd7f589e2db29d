# Sourced by scripts/test at the repository root: the parsers of untrusted input under
# cargo-fuzz (idp/fuzz, which builds only mamori-saml-wire, mamori-untrusted and
# mamori-ca, never the whole IdP), 30 s per target
# from the committed corpus; a crash fails the suite (fuzz_status). cargo-fuzz is pinned
# and installed under $CARGO_HOME/tools/cargo-fuzz-VERSION: outside the checkout, so a
# clean checkout on the same machine reuses it, and beside (not over) any cargo-fuzz of
# the user's. Its nightly
# flags run on the stable toolchain with RUSTC_BOOTSTRAP=1. The build is the quick `--dev`
# profile of idp/fuzz/Cargo.toml (opt-level 1, no debug info), without a sanitizer, in its
# own target/fuzz; the long runs by hand use -O and AddressSanitizer (idp/fuzz/README.md).
CARGO_FUZZ_VERSION=0.13.1
fuzz_bin="${CARGO_HOME:-$HOME/.cargo}/tools/cargo-fuzz-$CARGO_FUZZ_VERSION/bin"
[ -x "$fuzz_bin/cargo-fuzz" ] \
  || cargo install --quiet --locked --version "$CARGO_FUZZ_VERSION" --root "$(dirname "$fuzz_bin")" cargo-fuzz
fuzz_status=0
fuzz_summary=""
fuzz_start=$SECONDS
for target in authn_request logout_request sp_metadata c14n jwt csr client_certificate csv_import; do
  mkdir -p "target/fuzz/corpus/$target" "target/fuzz/artifacts/$target"
  fuzz_log=$(mktemp)
  status=0
  PATH="$fuzz_bin:$PATH" RUSTC_BOOTSTRAP=1 timeout --kill-after=20 1200 cargo fuzz run \
    --fuzz-dir idp/fuzz --target-dir "$PWD/target/fuzz" --dev --sanitizer none "$target" \
    "target/fuzz/corpus/$target" "idp/fuzz/corpus/$target" -- \
    -max_total_time=30 -max_len=16384 -timeout=10 -print_final_stats=1 \
    "-artifact_prefix=target/fuzz/artifacts/$target/" >"$fuzz_log" 2>&1 || status=$?
  if [ "$status" -ne 0 ]; then tail -n 80 "$fuzz_log"; else grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)' "$fuzz_log" || true; fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$fuzz_log" | tail -n 1)
  cov=$(grep -oE 'cov: [0-9]+' "$fuzz_log" | tail -n 1 || true)
  if [ "$status" -ne 0 ]; then
    fuzz_status=$status
    fuzz_summary+="  $target: FAILED (exit $status); crash inputs: $(grep -oE 'Test unit written to [^ ]+' "$fuzz_log" | cut -d' ' -f5- | tr '\n' ' ' || true)"$'\n'
  else
    fuzz_summary+="  $target: ${runs:-?} runs in 30 s, ${cov:-cov: ?}, no crash"$'\n'
  fi
  rm -f "$fuzz_log"
done
echo "fuzz tests (cargo fuzz, idp/fuzz; $((SECONDS - fuzz_start)) s with the build; crashes go to target/fuzz/artifacts/):"
printf '%s' "$fuzz_summary"
