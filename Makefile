# dplab make targets. `make help` lists them. Every target installs what it needs first.
SHELL := /bin/bash
VENV := .venv
LAB := $(VENV)/bin/lab
PYTEST := $(VENV)/bin/pytest
DURATION ?= 5
REPEAT ?=
KERNEL ?=
RUN_ARGS := $(if $(DURATION),--duration $(DURATION)) $(if $(REPEAT),--repeat $(REPEAT)) $(if $(KERNEL),--kernel $(KERNEL))

.PHONY: help setup demo test test-quick lint clean tools

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

setup: ## install apt packages and the venv (idempotent)
	@./scripts/setup.sh

tools: tools/bin/xsk_tx tools/bin/udpgso_tx tools/bin/tcp_stream tools/bin/dplab_window_write tools/bin/libdplab-insn.so ## build the guest tools and the instruction profiler (QEMU plugin)

tools/bin/xsk_tx: tools/xsk_tx.c tools/lab_clock.h
	@mkdir -p tools/bin
	gcc -O2 -Wall -o $@ $< -lxdp -lbpf -lelf -lz

tools/bin/udpgso_tx: tools/udpgso_tx.c tools/lab_clock.h tools/lab_addr.h
	@mkdir -p tools/bin
	gcc -O2 -Wall -o $@ $<

tools/bin/tcp_stream: tools/tcp_stream.c tools/lab_clock.h tools/lab_addr.h
	@mkdir -p tools/bin
	gcc -O2 -Wall -o $@ $<

tools/bin/dplab_window_write: tools/window_write.c tools/lab_clock.h
	@mkdir -p tools/bin
	gcc -O2 -Wall -o $@ $<

tools/qemu/qemu-plugin.h:
	./scripts/qemu-source.sh tools/qemu

tools/bin/libdplab-insn.so: tools/insn_plugin.c tools/qemu/qemu-plugin.h
	@mkdir -p tools/bin
	gcc -O2 -Wall -shared -fPIC -Itools/qemu -o $@ $<

demo: setup ## the main job: boot the default kernel, run testcases/throughput.yaml, print a table
	$(LAB) run testcases/throughput.yaml $(RUN_ARGS)

lint: setup ## ruff over lab/, tests/ and examples/ (configured in pyproject.toml)
	$(VENV)/bin/ruff check lab tests examples

test: setup lint ## lint, then the whole test suite, real VMs included
	$(PYTEST) -ra --durations=25 $(PYTEST_ARGS)

test-quick: setup ## unit tests only (no VM, no kernel build)
	$(PYTEST) -ra -m "not vm and not build and not slow" $(PYTEST_ARGS)

clean: ## remove run directories and Python caches (not the kernel cache in ~/.cache/dplab)
	rm -rf runs .pytest_cache
	find . -name __pycache__ -prune -exec rm -rf {} +

PATCHES ?=
KCONFIGS ?=
.PHONY: kernel bench-build
kernel: setup ## build a patched kernel: make kernel PATCHES=xsk-copy-path [KCONFIGS="kconfigs/a.config ..."]
	$(LAB) build $(if $(PATCHES),--patches $(PATCHES)) $(foreach k,$(KCONFIGS),--kconfig $(k))

bench-build: setup ## benchmark the builder: cold, warm-ccache and one-file-patch builds, boot time (slow)
	$(VENV)/bin/python -m lab.bench.build

RUNS ?= $(shell ls -d runs/*/ 2>/dev/null | grep -v -- '-boot-' | tail -n 5)
.PHONY: report offload
report: setup ## HTML report (+ PNG screenshot) of the latest runs: make report [RUNS="runs/a runs/b"]
	@test -n "$(RUNS)" || { echo "no runs yet: make demo first"; exit 1; }
	$(LAB) report $(RUNS) --html runs/report.html $(if $(shell command -v chromium),--screenshot runs/report.png)

offload: setup ## known answer: TCP over virtio-net with TSO/GSO on vs off (off must be slower)
	$(LAB) run testcases/offload.yaml $(RUN_ARGS)


.PHONY: line
.PHONY: xsk xsk-deterministic ipsec tunnel udpgso bulk xdp-rx bench bench-boot bench-bisect bench-jobs bench-modes bench-gate nightly
xsk: setup ## seed 003: AF_XDP generic xmit, page vs copy path, 64-1500 B, virtio-net and e1000e
	$(LAB) run testcases/xsk.yaml $(if $(REPEAT),--repeat $(REPEAT))

xsk-deterministic: setup ## seed 003 in instructions per packet (TCG icount, 1 vCPU), virtio-net; CPU=max (calibrated default)
	$(LAB) run testcases/xsk.yaml --mode deterministic --links virtio $(if $(CPU),--cpu-model $(CPU)) $(RUN_ARGS)

ipsec: setup ## seed 002: ESP (AES-GCM, NULL) with and without ESP offload (GSO), virtio-net and e1000e
	$(LAB) run testcases/ipsec.yaml $(RUN_ARGS)

tunnel: setup udpgso ## seed 000: WireGuard, VXLAN, FOU with GSO/GRO on vs off; UDP GSO vs plain sends
	$(LAB) run testcases/tunnel.yaml $(RUN_ARGS)

udpgso: setup ## UDP GSO (UDP_SEGMENT) superpackets vs one send() per datagram, IPv4 and IPv6
	$(LAB) run testcases/udpgso.yaml $(RUN_ARGS)

bulk: setup ## seed 004: pktgen burst 1 vs 8 vs 32 (xmit_more), start_xmit vs queue_xmit
	$(LAB) run testcases/bulk.yaml $(RUN_ARGS)

xdp-rx: setup ## seed 001: drop in XDP vs drop in the stack, pktgen traffic
	$(LAB) run testcases/xdp-rx.yaml $(RUN_ARGS)

bench-boot: setup ## QEMU start to first guest command, 5 boots each of the Debian and the lab kernel
	$(VENV)/bin/python -m lab.bench.boot

bench-bisect: setup ## lab bisect over a 16-commit history with one slow commit: steps, builds, wall time (slow)
	$(VENV)/bin/python -m lab.bench.bisect

bench-jobs: setup ## a deterministic run serial and with two guests at once: wall ratio, headlines moved
	$(VENV)/bin/python -m lab.bench.jobs

bench-modes: setup ## CV of wall-clock vs deterministic mode on XSK and iperf3 cells, measured in one run
	$(VENV)/bin/python -m lab.bench.modes

bench-gate: setup ## the nightly gate's false FAIL rate and detection power, simulated with synthetic records
	$(VENV)/bin/python -m lab.bench.gate_sim

bench: bench-boot bench-build bench-modes bench-gate ## all benchmarks (figures measured in one run; never timed tests)

LINE ?= debian:6.12
line: setup ## every testcase once, small, on another kernel line (LINE=debian:6.12 default; also a lab build name)
	@for t in testcases/*.yaml; do echo "== $$t on $(LINE)"; \
	  $(LAB) run $$t --kernel $(LINE) --links virtio --repeat 1 --duration 1 || exit 1; done

NIGHTLY_OUT ?= runs/nightly-$(shell date +%Y%m%d-%H%M)
nightly: setup ## the nightly job on one machine: every testcase + deterministic legs, report, gate vs the last passing night
	./scripts/nightly.sh run $(NIGHTLY_OUT) && ./scripts/nightly.sh gate $(NIGHTLY_OUT) runs
