/* files.h -- what the store's unit tests count on disk. */
#ifndef TS_TEST_OBJSTORE_FILES_H
#define TS_TEST_OBJSTORE_FILES_H

#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>

/* Regular files under path, recursively (dot entries skipped); 0 when path cannot be read. */
static inline size_t count_files(const char *path)
{
    size_t n = 0;
    DIR *d = opendir(path);
    struct dirent *e;
    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL) {
        char p[1024];
        struct stat sb;
        if (e->d_name[0] == '.')
            continue;
        if (snprintf(p, sizeof p, "%s/%s", path, e->d_name) >= (int)sizeof p)
            continue; /* no such path in a test's data directory */
        n += stat(p, &sb) == 0 && S_ISDIR(sb.st_mode) ? count_files(p) : 1;
    }
    closedir(d);
    return n;
}

#endif
