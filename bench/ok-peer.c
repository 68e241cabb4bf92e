/*
 * An instant-ok printer for bench/stream.ts: opens a tty (one end of a socat pty pair), answers
 * every line with "ok" at once, and reports on stdout when it sees the start and end markers of
 * the benchmark file ("start <unix ns> <lines>" / "end <unix ns> <lines>"), so every host is
 * timed the same way, from the printer's side; and every 250 lines "p <unix ns> <lines>", so a
 * rate can be taken over part of a print (bench/load.ts). Built by the benchmark with the system's cc.
 *
 *   ok-peer TTY START_MARKER END_MARKER [advanced]
 *
 * With "advanced" it answers like Marlin with ADVANCED_OK and a 4-line command buffer
 * ("ok P15 B3"), so a host may keep several lines in flight.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc != 4 && argc != 5) {
    fprintf(stderr, "usage: ok-peer TTY START_MARKER END_MARKER [advanced]\n");
    return 2;
  }
  int advanced = argc == 5 && strcmp(argv[4], "advanced") == 0;
  const char *ok = advanced ? "ok P15 B3\n" : "ok\n";
  size_t oklen = strlen(ok);
  char okbuf[8 * 16];
  for (int k = 0; k < 8; k++) memcpy(okbuf + k * oklen, ok, oklen);
  int fd = open(argv[1], O_RDWR | O_NOCTTY);
  if (fd < 0) {
    perror(argv[1]);
    return 1;
  }
  struct termios t;
  if (tcgetattr(fd, &t) == 0) {
    cfmakeraw(&t);
    tcsetattr(fd, TCSANOW, &t);
  }
  char buf[65536], line[512];
  size_t len = 0;
  long long lines = 0;
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("ready\n");
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    int oks = 0;
    for (ssize_t i = 0; i < n; i++) {
      char c = buf[i];
      if (c == '\n' || c == '\r') {
        if (len == 0) continue;
        line[len] = 0;
        lines++;
        oks++;
        if (strstr(line, argv[2])) printf("start %lld %lld\n", now_ns(), lines);
        if (strstr(line, argv[3])) printf("end %lld %lld\n", now_ns(), lines);
        if (lines % 250 == 0) printf("p %lld %lld\n", now_ns(), lines);
        len = 0;
      } else if (len < sizeof line - 1) {
        line[len++] = c;
      }
    }
    // One write for all the lines of this read: what a firmware's serial driver would do.
    while (oks > 0) {
      int k = oks > 8 ? 8 : oks;
      if (write(fd, okbuf, (size_t)k * oklen) < 0) return 1;
      oks -= k;
    }
  }
  return 0;
}
