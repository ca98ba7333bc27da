// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dplab instruction profiler: a QEMU TCG plugin (API 1, QEMU 7.2) counting every executed guest
 * instruction per translation block, inside windows the guest workload marks itself.
 *
 * The workload executes two no-op marker instructions around the loop it measures:
 *   xchg %bx,%bx (66 87 db) opens a window, xchg %cx,%cx (66 87 c9) closes it.
 * At the close, for every block that ran in the window this appends a line
 *   <block vaddr> <instructions in the block> <executions> <offset of each instruction from vaddr...>
 * (hex) to the output file, after a header "W <window> <instructions in the window>" and before "E".
 * The lab maps the addresses to kernel functions. Counting is an inline add per block: the guest runs
 * exactly the same instructions with or without the plugin (under icount, the same guest time).
 *
 * Usage: -plugin file=libdplab-insn.so,out=/path/profile.txt   (single-threaded TCG: one vCPU)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

struct block {
	uint64_t vaddr;
	uint64_t count;   /* executions since the plugin started (inline add) */
	uint64_t base;    /* count when the window opened */
	uint32_t n;       /* instructions */
	uint16_t *offs;   /* each instruction's offset from vaddr */
};

static struct block **table;
static size_t cap = 1 << 16, used;
static FILE *out;
static unsigned window;

static const unsigned char OPEN[] = { 0x66, 0x87, 0xdb }, CLOSE[] = { 0x66, 0x87, 0xc9 };

static size_t slot(uint64_t vaddr, uint32_t n)
{
	uint64_t h = (vaddr ^ ((uint64_t)n << 48)) * 0x9e3779b97f4a7c15ULL;

	return h >> 1 & (cap - 1);
}

static void grow(void)
{
	struct block **old = table;
	size_t oldcap = cap;

	cap *= 2;
	table = calloc(cap, sizeof(*table));
	for (size_t i = 0; i < oldcap; i++) {
		if (old[i]) {
			size_t j = slot(old[i]->vaddr, old[i]->n);

			while (table[j])
				j = (j + 1) & (cap - 1);
			table[j] = old[i];
		}
	}
	free(old);
}

/* The block at vaddr with n instructions: one record however often QEMU retranslates it. */
static struct block *lookup(struct qemu_plugin_tb *tb)
{
	uint64_t vaddr = qemu_plugin_tb_vaddr(tb);
	uint32_t n = qemu_plugin_tb_n_insns(tb);
	size_t i = slot(vaddr, n);

	for (; table[i]; i = (i + 1) & (cap - 1))
		if (table[i]->vaddr == vaddr && table[i]->n == n)
			return table[i];
	if (2 * (used + 1) > cap) {
		grow();
		return lookup(tb);
	}
	struct block *b = calloc(1, sizeof(*b));

	b->vaddr = vaddr;
	b->n = n;
	b->offs = calloc(n, sizeof(*b->offs));
	for (uint32_t k = 0; k < n; k++)
		b->offs[k] = (uint16_t)(qemu_plugin_insn_vaddr(qemu_plugin_tb_get_insn(tb, k)) - vaddr);
	table[i] = b;
	used++;
	return b;
}

static void open_window(unsigned int vcpu, void *udata)
{
	for (size_t i = 0; i < cap; i++)
		if (table[i])
			table[i]->base = table[i]->count;
}

static void close_window(unsigned int vcpu, void *udata)
{
	uint64_t total = 0;

	for (size_t i = 0; i < cap; i++)
		if (table[i])
			total += (table[i]->count - table[i]->base) * table[i]->n;
	fprintf(out, "W %u %" PRIu64 "\n", window++, total);
	for (size_t i = 0; i < cap; i++) {
		struct block *b = table[i];

		if (!b || b->count == b->base)
			continue;
		fprintf(out, "%" PRIx64 " %x %" PRIx64, b->vaddr, b->n, b->count - b->base);
		for (uint32_t k = 0; k < b->n; k++)
			fprintf(out, " %x", b->offs[k]);
		fputc('\n', out);
	}
	fputs("E\n", out);
	fflush(out);
}

static int is_marker(struct qemu_plugin_insn *insn, const unsigned char *m)
{
	return qemu_plugin_insn_size(insn) == 3 && !memcmp(qemu_plugin_insn_data(insn), m, 3);
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	struct block *b = lookup(tb);

	qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &b->count, 1);
	for (size_t k = 0; k < qemu_plugin_tb_n_insns(tb); k++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, k);

		if (is_marker(insn, OPEN))
			qemu_plugin_register_vcpu_insn_exec_cb(insn, open_window, QEMU_PLUGIN_CB_NO_REGS, NULL);
		else if (is_marker(insn, CLOSE))
			qemu_plugin_register_vcpu_insn_exec_cb(insn, close_window, QEMU_PLUGIN_CB_NO_REGS, NULL);
	}
}

static void at_exit(qemu_plugin_id_t id, void *p)
{
	if (out)
		fclose(out);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
	const char *path = NULL;

	for (int i = 0; i < argc; i++)
		if (!strncmp(argv[i], "out=", 4))
			path = argv[i] + 4;
	if (!path || !(out = fopen(path, "a"))) {
		fprintf(stderr, "dplab-insn: needs out=<writable file>\n");
		return -1;
	}
	table = calloc(cap, sizeof(*table));
	qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
	qemu_plugin_register_atexit_cb(id, at_exit, NULL);
	return 0;
}
