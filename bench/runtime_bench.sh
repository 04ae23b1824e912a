# Sourced by bench/transport.sh, bench/grain_calls.sh, bench/training.sh and bench/metrics.sh: builds one runtime benchmark project in Release, records
# the machine, and runs it once, writing bench/results/<name>-<timestamp>/ (machine.txt, summary.txt, <name>.json).
#   run_runtime_bench PROJECT NAME "ABOUT" [benchmark arguments...]
run_runtime_bench() {
  local project="$1" name="$2" about="$3"
  shift 3
  local root stamp out dll
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  stamp="$(date +%Y%m%d-%H%M%S)"
  out="$root/bench/results/$name-$stamp"
  mkdir -p "$out"

  echo "== building bench/$project (Release)" >&2
  dotnet build "$root/bench/$project/$project.csproj" -c Release -nologo -v quiet >&2
  dll="$root/bench/$project/bin/Release/net10.0/$project.dll"

  {
    echo "date: $(date -Iseconds)"
    echo "nproc: $(nproc)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "kernel: $(uname -r)"
    echo "dotnet: $(dotnet --version)"
    echo "tcp_rmem: $(cat /proc/sys/net/ipv4/tcp_rmem 2>/dev/null || echo '?')  tcp_wmem: $(cat /proc/sys/net/ipv4/tcp_wmem 2>/dev/null || echo '?')"
    if git -C "$root" rev-parse --short HEAD >/dev/null 2>&1; then
      echo "git: $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD -- silo/Runtime 2>/dev/null || echo ' (silo/Runtime modified in the working tree)')"
    fi
    echo "arguments: ${*:-(defaults)}"
    echo "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  } > "$out/machine.txt"

  echo "== running ($about)" >&2
  dotnet "$dll" --json "$out/$name.json" "$@" | tee "$out/summary.txt"
  echo "loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/machine.txt"
  echo "results: $out" >&2
}
