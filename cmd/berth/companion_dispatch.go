//go:build berth_noimage && cgo

package main

// Before the Go runtime starts (a C constructor, as libcontainer's nsexec
// is), berth looks at its arguments and, for an image store command (pull,
// images, rmi, gc, bundle), executes berth-image beside it at once; run
// --image stays here, since an image already in the store runs from the
// runtime itself (companion.go): the image commands then pay for one
// exec of a program that does nothing else, not for a Go runtime start-up.
// The look is quick and conservative: it knows the global flags that take
// a value, and anything it does not recognise falls through to the Go
// command line, whose image commands exec berth-image too (companion.go).

/*
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BERTH_MAX_CMDLINE (256 * 1024)
#define BERTH_MAX_ARGS 4096

static int berth_streq(const char *a, const char *b) { return strcmp(a, b) == 0; }

// berth_flag_takes_value: the global flags given as "--flag value".
static int berth_flag_takes_value(const char *a)
{
	const char *names[] = { "root", "log", "log-format", "rootless", "image-store", NULL };
	while (*a == '-')
		a++;
	for (int i = 0; names[i]; i++)
		if (berth_streq(a, names[i]))
			return 1;
	return 0;
}

static int berth_is_image_command(int argc, char **argv)
{
	int i = 1;
	while (i < argc) {
		const char *a = argv[i];
		if (berth_streq(a, "--"))
			return 0;
		if (a[0] != '-')
			break;
		if (strchr(a, '=') == NULL && berth_flag_takes_value(a))
			i++;
		i++;
	}
	if (i >= argc)
		return 0;
	const char *cmd = argv[i];
	return berth_streq(cmd, "pull") || berth_streq(cmd, "images") || berth_streq(cmd, "rmi") ||
	       berth_streq(cmd, "gc") || berth_streq(cmd, "bundle");
}

__attribute__((constructor)) static void berth_dispatch_image(void)
{
	static char buf[BERTH_MAX_CMDLINE];
	static char *argv[BERTH_MAX_ARGS + 1];
	char exe[PATH_MAX], target[PATH_MAX];
	int fd, argc = 0;
	ssize_t n, len = 0;

	fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	while ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += n;
	close(fd);
	if (n < 0 || len == 0 || len >= (ssize_t)sizeof(buf) - 1)
		return; // unreadable or too long: the Go side decides
	buf[len] = '\0';
	for (ssize_t off = 0; off < len && argc < BERTH_MAX_ARGS; off += strlen(buf + off) + 1)
		argv[argc++] = buf + off;
	argv[argc] = NULL;
	if (argc >= BERTH_MAX_ARGS || !berth_is_image_command(argc, argv))
		return;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return;
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash == NULL)
		return;
	*slash = '\0';
	if (snprintf(target, sizeof(target), "%s/berth-image", exe) >= (int)sizeof(target))
		return;
	argv[0] = target;
	execv(target, argv);
	// Not there or not runnable: the Go command line says why.
}
*/
import "C"
