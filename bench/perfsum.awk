# perfsum.awk — sorts the samples of `perf script` output (perf record -g)
# into cost buckets, one bucket per sample, and prints a markdown table.
# Used by bench/sftp.sh (PERF=1):
#
#	perf script -i perf.data | awk -f bench/perfsum.awk
#
# The leaf frame decides first (crypto, copies, zeroing); otherwise the
# first rule below that matches any frame of the stack.

function bucket(    i, leaf, all) {
	leaf = fr[1]
	all = ""
	for (i = 1; i <= n; i++) all = all " " fr[i]
	if (leaf ~ /sha256|hmac|sha512/) return "MAC (HMAC-SHA2)"
	if (leaf ~ /fips140\/aes|gcm|ghash|chacha|poly1305/) return "cipher (AES-CTR/GCM)"
	if (all ~ /asm_exc_page_fault/) return "page faults (first touch of new memory)"
	if (leaf ~ /runtime\.memclrNoHeapPointers/) return "zeroing new allocations (memclr)"
	if (leaf ~ /runtime\.memmove/) return "copies in user space (memmove)"
	if (all ~ /deadlineConn\)\.extend|SetDeadline|setDeadline/) return "SetDeadline on every read/write"
	if (all ~ /gcBgMarkWorker|bgsweep|bgscavenge|gcAssist|gcDrain|markroot/) return "GC (mark, sweep, assist)"
	if (all ~ /runtime\.mallocgc/) return "allocation (mallocgc)"
	if (all ~ /netFD|tcp_|sock_|inet_|__sys_(send|recv)/) return "socket read/write (kernel + syscall)"
	if (all ~ /os\.\(\*File\)|shmem_|vfs_(read|write)|filemap/) return "file read/write (tmpfs)"
	if (all ~ /runtime\.(mcall|schedule|findRunnable|park_m|gopark|goready|wakep|notewakeup|futex)|finish_task_switch|__schedule|futex/) return "scheduler, goroutine hand-offs, futex"
	return "other"
}

function flush() {
	if (n > 0) { count[bucket()]++; total++ }
	n = 0
}

/^[^ \t]/ { flush(); next }            # sample header line
/^[ \t]*$/ { flush(); next }
{
	# "\t  addr symbol+off (dso)"
	sym = $2
	sub(/\+0x[0-9a-f]+$/, "", sym)
	fr[++n] = sym
}
END {
	flush()
	if (total == 0) { print "no samples"; exit }
	print "| bucket | share of sluice CPU samples |"
	print "|---|---:|"
	for (b in count) printf "%06d\t| %s | %.1f%% |\n", count[b], b, 100 * count[b] / total | "sort -rn | cut -f2-"
	close("sort -rn | cut -f2-")
	printf "| (samples) | %d |\n", total
}
