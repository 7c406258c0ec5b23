// Conmon's exit command is `engine ... container cleanup ID`. When the
// container was run in the foreground, the CLI that ran it is still there
// and cleans up itself (see AttachedFile in exitcmd.go): this constructor
// then ends the exit command before the Go runtime and its packages start,
// which would take tens of milliseconds of CPU while that CLI works.
#define _GNU_SOURCE
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((constructor)) static void ocisuite_attached_cleanup(int argc, char **argv, char **envp)
{
	(void)envp;
	const char *runroot = NULL;
	int cleanup = 0;
	if (argc < 4 || argv == NULL)
		return;
	for (int i = 1; i < argc - 1; i++) {
		if (strcmp(argv[i], "--runroot") == 0)
			runroot = argv[i + 1];
		else if (strcmp(argv[i], "container") == 0 && strcmp(argv[i + 1], "cleanup") == 0 && i + 3 == argc)
			cleanup = 1;
	}
	const char *id = argv[argc - 1];
	if (!cleanup || runroot == NULL || strchr(id, '/') != NULL || id[0] == '.')
		return;
	char path[PATH_MAX], buf[32];
	if (snprintf(path, sizeof(path), "%s/engine/attached/%s", runroot, id) >= (int)sizeof(path))
		return;
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	int pid = atoi(buf);
	if (pid > 0 && pid != getpid() && kill(pid, 0) == 0)
		_exit(0);
}
