// Joining the rootless user's pause process must happen before the Go
// runtime starts threads: setns(CLONE_NEWUSER) refuses a multithreaded
// process. This constructor runs first, while the process is one thread.
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// pause_pid_file mirrors PauseFile in userns.go.
static int pause_pid_file(char *buf, size_t n)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	if (xdg != NULL && xdg[0] != '\0')
		return snprintf(buf, n, "%s/ocisuite-pause.pid", xdg);
	return snprintf(buf, n, "/tmp/ocisuite-%d/ocisuite-pause.pid", (int)getuid());
}

__attribute__((constructor)) static void ocisuite_join_userns(void)
{
	char path[PATH_MAX], pidbuf[32], ns[64], cwd[PATH_MAX], idbuf[32];
	uid_t uid = getuid();
	gid_t gid = getgid();
	if (uid == 0 || getenv("_OCISUITE_NO_JOIN") != NULL)
		return;
	if (pause_pid_file(path, sizeof(path)) >= (int)sizeof(path))
		return;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t r = read(fd, pidbuf, sizeof(pidbuf) - 1);
	close(fd);
	if (r <= 0)
		return;
	pidbuf[r] = '\0';
	int pid = atoi(pidbuf);
	if (pid <= 0 || kill(pid, 0) != 0)
		return;
	snprintf(ns, sizeof(ns), "/proc/%d/ns/user", pid);
	int userfd = open(ns, O_RDONLY | O_CLOEXEC);
	snprintf(ns, sizeof(ns), "/proc/%d/ns/mnt", pid);
	int mntfd = open(ns, O_RDONLY | O_CLOEXEC);
	if (userfd < 0 || mntfd < 0)
		goto out;
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		cwd[0] = '\0';
	if (setns(userfd, CLONE_NEWUSER) != 0)
		goto out;
	if (setns(mntfd, CLONE_NEWNS) != 0) {
		// Half joined is unusable: leave, and let Go report it.
		fprintf(stderr, "cannot join the mount namespace of the rootless pause process %d\n", pid);
		_exit(125);
	}
	if (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0) {
		fprintf(stderr, "cannot become root in the user namespace of pause process %d\n", pid);
		_exit(125);
	}
	if (cwd[0] != '\0' && chdir(cwd) != 0)
		chdir("/");
	snprintf(idbuf, sizeof(idbuf), "%d", (int)uid);
	setenv("_CONTAINERS_ROOTLESS_UID", idbuf, 1);
	snprintf(idbuf, sizeof(idbuf), "%d", (int)gid);
	setenv("_CONTAINERS_ROOTLESS_GID", idbuf, 1);
	setenv("_CONTAINERS_USERNS_CONFIGURED", "done", 1);
out:
	if (userfd >= 0)
		close(userfd);
	if (mntfd >= 0)
		close(mntfd);
}
