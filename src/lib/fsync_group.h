/* fsync_group: syncfs(2) shared by every thread that needs one at the same
 * time. A syncfs that starts after a caller's writes covers them, so callers
 * that arrive while one is running wait for the next one, and one device
 * flush serves them all (queue commits and delivery batches alike). */
#ifndef FSYNC_GROUP_H
#define FSYNC_GROUP_H

/* Make everything written so far on fd's file system durable. 0, or -1 with errno. */
int fsync_group(int fd);
#endif
