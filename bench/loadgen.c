/*
 * loadgen: the benchmarks' load generator and origin server, in C so that neither is the
 * bottleneck on a 2-CPU machine (the proxies under test get the CPU). One epoll loop each.
 *
 *   loadgen origin PORT
 *     Per connection, the first byte says what to do:
 *       B<bytes>\n  stream that many bytes, then close      P  reply "p", then close
 *       I           reply "i", then hold until the peer goes  S  sink: count until EOF, then
 *       E           echo every byte back until EOF               print {"bytes":N,"ms":T}
 *   loadgen client MODE DEST_IP DEST_PORT [--socks PROXY_IP:PORT] [--src IP] ARGS...
 *     bulk STREAMS BYTES   STREAMS downloads of BYTES/STREAMS each; {"bytes","secs"}
 *     up BYTES             one upload of BYTES into an `S` sink; {"bytes","secs"}
 *     conn CONC SECONDS    CONC loops of connect, [SOCKS5], "P", read 1 byte, close;
 *                          {"done","failed","secs"}
 *     idle COUNT           COUNT held connections (64 in flight while opening);
 *                          {"held","failed"}, then waits for a line on stdin, closes all
 *     rtt COUNT SIZE       one connection ("E"), then COUNT round trips of SIZE bytes, each
 *                          sent once the previous echo is back; {"count","median_us","p10_us",
 *                          "p90_us","mean_us"} (the per-request cost of what lies in between)
 *       --leg NAME[,socks=IP:PORT][,src=IP] (repeatable, rtt only): one connection per leg, each
 *                          its own way to DEST; the round trips go to the legs in turn (leg 1,
 *                          leg 2, ..., leg 1, ...), so every leg sees the same machine state
 *                          (CPU idle states, other load); COUNT round trips per leg, one line
 *                          {"count","failed","legs":[{"name","median_us",...}, ...]}
 *       --warmup N         (rtt) N round trips per leg first, not counted
 *   --socks does a plain RFC 1928 exchange (greeting, wait, CONNECT, wait), no pipelining.
 * Bulk bytes cost the load generator as little as the kernel allows: the origin sendfile()s
 * from a memfd and the client splice()s into /dev/null, so the proxy under test gets the CPU.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define BUF (1 << 20)
static char buf[BUF];
static int ep;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void parse_addr(const char *ip, int port, struct sockaddr_in *sa) {
  memset(sa, 0, sizeof *sa);
  sa->sin_family = AF_INET;
  sa->sin_port = htons(port);
  if (inet_pton(AF_INET, ip, &sa->sin_addr) != 1) {
    fprintf(stderr, "loadgen: bad address %s\n", ip);
    exit(2);
  }
}

static void watch(int fd, uint32_t ev, void *ptr, int op) {
  struct epoll_event e = {.events = ev, .data.ptr = ptr};
  if (epoll_ctl(ep, op, fd, &e) < 0) die("epoll_ctl");
}

/* ------------------------------------------------------------------ origin */

enum { O_NEW, O_STREAM, O_HOLD, O_SINK, O_ECHO };
struct oconn {
  int fd, state;
  long long left, got;
  off_t off;  /* into the memfd */
  double t0;
};

static int srcfd = -1; /* BUF bytes of 'x' in a memfd, for sendfile() */

static void oclose(struct oconn *c) {
  close(c->fd);
  free(c);
}

static void ostream(struct oconn *c) {
  while (c->left > 0) {
    if (c->off >= BUF) c->off = 0;
    size_t chunk = BUF - c->off;
    ssize_t n = sendfile(c->fd, srcfd, &c->off, c->left < (long long)chunk ? (size_t)c->left : chunk);
    if (n < 0) {
      if (errno == EAGAIN) {
        watch(c->fd, EPOLLOUT, c, EPOLL_CTL_MOD);
        return;
      }
      oclose(c);
      return;
    }
    c->left -= n;
  }
  oclose(c);
}

static void oread(struct oconn *c) {
  for (;;) {
    ssize_t n = read(c->fd, buf, BUF);
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) {
      if (c->state == O_SINK) {
        printf("{\"bytes\":%lld,\"ms\":%.3f}\n", c->got, (now() - c->t0) * 1000);
        fflush(stdout);
      }
      oclose(c);
      return;
    }
    if (c->state == O_ECHO) {
      if (write(c->fd, buf, n) != n) {
        oclose(c);
        return;
      }
      continue;
    }
    if (c->state == O_NEW) {
      if (buf[0] == 'E') {
        c->state = O_ECHO;
        if (n > 1 && write(c->fd, buf + 1, n - 1) != n - 1) {
          oclose(c);
          return;
        }
        continue;
      }
      if (buf[0] == 'B') {
        c->left = atoll(buf + 1);
        c->state = O_STREAM;
        ostream(c);
        return;
      }
      if (buf[0] == 'P') {
        (void)!write(c->fd, "p", 1);
        oclose(c);
        return;
      }
      if (buf[0] == 'I') {
        (void)!write(c->fd, "i", 1);
        c->state = O_HOLD;
        continue;
      }
      if (buf[0] == 'S') {
        c->state = O_SINK;
        c->t0 = now();
        c->got = n - 1;
        continue;
      }
      oclose(c);
      return;
    }
    if (c->state == O_SINK) c->got += n;
  }
}

static void origin(int port) {
  srcfd = memfd_create("loadgen", 0);
  if (srcfd < 0 || write(srcfd, buf, BUF) != BUF) die("memfd");
  int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in sa;
  parse_addr("0.0.0.0", port, &sa);
  if (bind(l, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(l, 4096) < 0) die("origin listen");
  socklen_t sl = sizeof sa;
  getsockname(l, (struct sockaddr *)&sa, &sl);
  printf("{\"port\":%d}\n", ntohs(sa.sin_port));
  fflush(stdout);
  watch(l, EPOLLIN, NULL, EPOLL_CTL_ADD);
  struct epoll_event ev[256];
  for (;;) {
    int n = epoll_wait(ep, ev, 256, -1);
    for (int i = 0; i < n; i++) {
      struct oconn *c = ev[i].data.ptr;
      if (!c) {
        int fd;
        while ((fd = accept4(l, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          c = calloc(1, sizeof *c);
          c->fd = fd;
          watch(fd, EPOLLIN, c, EPOLL_CTL_ADD);
        }
        continue;
      }
      if (c->state == O_STREAM)
        ostream(c);
      else
        oread(c);
    }
  }
}

/* ------------------------------------------------------------------ client */

enum { C_CONNECTING, C_GREET, C_REPLY, C_RUN };
struct cconn {
  int fd, state, got;
  long long want, bytes;
  struct leg *leg;
};

static struct sockaddr_in dest;
/* How a connection reaches dest: straight or through a SOCKS5 proxy, from a source address or not. */
struct leg {
  char name[32];
  struct sockaddr_in proxy, src;
  int use_socks, use_src;
};
#define MAX_LEGS 8
static struct leg legs[MAX_LEGS], *deflt = &legs[0];
static int nlegs; /* --leg given (rtt) */
static int sink[2] = {-1, -1}, devnull = -1; /* bulk: socket -> pipe -> /dev/null */
static const char *mode;
static long long per_bytes;
static long done, failed, active, target, started;
static double t_end;
static long long total_bytes;
/* rtt: round trips left (over all legs, warm-up included), the legs' times (us), the current one's
 * start, the legs' connections, whose turn it is, how many legs are connected */
static long rtt_left, rtt_warm, rtt_n[MAX_LEGS];
static double *rtt_us[MAX_LEGS], rtt_t0;
static struct cconn *rtt_conn[MAX_LEGS];
static int rtt_turn, rtt_ready;

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void rtt_send(struct cconn *c) {
  c->bytes = 0;
  rtt_t0 = now();
  if (write(c->fd, buf, per_bytes) != per_bytes) die("rtt write");
}

static int cstart(struct cconn *c) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (c->fd < 0) return -1;
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (c->leg->use_src && bind(c->fd, (struct sockaddr *)&c->leg->src, sizeof c->leg->src) < 0) {
    close(c->fd);
    return -1;
  }
  const struct sockaddr_in *to = c->leg->use_socks ? &c->leg->proxy : &dest;
  c->state = C_CONNECTING;
  c->got = 0;
  c->bytes = 0;
  if (connect(c->fd, (const struct sockaddr *)to, sizeof *to) < 0 && errno != EINPROGRESS) {
    close(c->fd);
    return -1;
  }
  watch(c->fd, EPOLLOUT, c, EPOLL_CTL_ADD);
  active++;
  started++;
  return 0;
}

static void crequest(struct cconn *c) {
  char req[64];
  int n;
  if (!strcmp(mode, "bulk")) n = snprintf(req, sizeof req, "B%lld\n", per_bytes);
  else if (!strcmp(mode, "conn")) n = snprintf(req, sizeof req, "P");
  else if (!strcmp(mode, "up")) n = snprintf(req, sizeof req, "S");
  else if (!strcmp(mode, "rtt")) n = snprintf(req, sizeof req, "E");
  else n = snprintf(req, sizeof req, "I");
  (void)!write(c->fd, req, n);
  c->state = C_RUN;
  /* the first round trip once every leg is connected */
  if (!strcmp(mode, "rtt") && ++rtt_ready == nlegs) rtt_send(rtt_conn[0]);
  if (!strcmp(mode, "up")) {
    c->want = per_bytes;
    watch(c->fd, EPOLLOUT, c, EPOLL_CTL_MOD);
  } else {
    watch(c->fd, EPOLLIN, c, EPOLL_CTL_MOD);
  }
}

/* Returns 1 when the connection is finished (ok or not). */
static int cstep(struct cconn *c, uint32_t events, int *ok) {
  if (c->state == C_CONNECTING) {
    int err = 0;
    socklen_t el = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err || (events & (EPOLLERR | EPOLLHUP))) return *ok = 0, 1;
    if (c->leg->use_socks) {
      (void)!write(c->fd, "\x05\x01\x00", 3);
      c->state = C_GREET;
      watch(c->fd, EPOLLIN, c, EPOLL_CTL_MOD);
      return 0;
    }
    crequest(c);
    return 0;
  }
  if (c->state == C_GREET || c->state == C_REPLY) {
    unsigned char r[16];
    int need = c->state == C_GREET ? 2 : 10;
    ssize_t n = read(c->fd, r, need - c->got);
    if (n < 0 && errno == EAGAIN) return 0;
    if (n <= 0) return *ok = 0, 1;
    c->got += n;
    if (c->got < need) return 0;
    c->got = 0;
    if (c->state == C_GREET) {
      if (r[n - 1] != 0) return *ok = 0, 1;
      unsigned char q[10] = {5, 1, 0, 1};
      memcpy(q + 4, &dest.sin_addr, 4);
      memcpy(q + 8, &dest.sin_port, 2);
      (void)!write(c->fd, q, 10);
      c->state = C_REPLY;
      return 0;
    }
    crequest(c);
    return 0;
  }
  if (!strcmp(mode, "up")) {
    while (c->want > 0) {
      ssize_t n = write(c->fd, buf, c->want < BUF ? c->want : BUF);
      if (n < 0 && errno == EAGAIN) return 0;
      if (n <= 0) return *ok = 0, 1;
      c->want -= n;
      c->bytes += n;
    }
    shutdown(c->fd, SHUT_WR);
    total_bytes += c->bytes;
    return *ok = 1, 1;
  }
  if (!strcmp(mode, "rtt")) {
    for (;;) {
      ssize_t n = read(c->fd, buf, BUF);
      if (n < 0 && errno == EAGAIN) return 0;
      if (n <= 0) return *ok = 0, 1;
      c->bytes += n;
      if (c != rtt_conn[rtt_turn] || c->bytes > per_bytes) die("rtt: unexpected bytes");
      if (c->bytes < per_bytes) continue;
      if (rtt_warm > 0) rtt_warm--;
      else rtt_us[rtt_turn][rtt_n[rtt_turn]++] = (now() - rtt_t0) * 1e6;
      if (--rtt_left == 0) return *ok = 1, 1;
      rtt_turn = (rtt_turn + 1) % nlegs;
      rtt_send(rtt_conn[rtt_turn]);
    }
  }
  int bulk = !strcmp(mode, "bulk");
  for (;;) {
    ssize_t n = bulk ? splice(c->fd, NULL, sink[1], NULL, BUF, SPLICE_F_MOVE | SPLICE_F_NONBLOCK) : read(c->fd, buf, BUF);
    if (n < 0 && errno == EAGAIN) return 0;
    if (n < 0) return *ok = 0, 1;
    if (n == 0) {
      total_bytes += c->bytes;
      return *ok = bulk, 1;
    }
    for (ssize_t left = n; left > 0;) {
      ssize_t m = bulk ? splice(sink[0], NULL, devnull, NULL, left, SPLICE_F_MOVE) : left;
      if (m <= 0) die("splice to /dev/null");
      left -= m;
    }
    c->bytes += n;
    if (!strcmp(mode, "conn")) return *ok = 1, 1;
    if (!strcmp(mode, "idle")) {
      epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
      return *ok = 1, 1;
    }
  }
}

static int parse_proxy(const char *spec, struct leg *l) {
  char ip[64];
  const char *colon = strrchr(spec, ':');
  if (!colon || colon - spec >= (long)sizeof ip) return 0;
  snprintf(ip, sizeof ip, "%.*s", (int)(colon - spec), spec);
  parse_addr(ip, atoi(colon + 1), &l->proxy);
  l->use_socks = 1;
  return 1;
}

/* NAME[,socks=IP:PORT][,src=IP] */
static int parse_leg(const char *spec, struct leg *l) {
  char s[128], *save = NULL;
  snprintf(s, sizeof s, "%s", spec);
  char *name = strtok_r(s, ",", &save);
  if (!name || strlen(name) >= sizeof l->name || strchr(name, '"')) return 0;
  strcpy(l->name, name);
  for (char *kv; (kv = strtok_r(NULL, ",", &save));) {
    if (!strncmp(kv, "socks=", 6)) {
      if (!parse_proxy(kv + 6, l)) return 0;
    } else if (!strncmp(kv, "src=", 4)) {
      parse_addr(kv + 4, 0, &l->src);
      l->use_src = 1;
    } else {
      return 0;
    }
  }
  return 1;
}

static int client(int argc, char **argv) {
  if (argc < 4) return 2;
  mode = argv[0];
  parse_addr(argv[1], atoi(argv[2]), &dest);
  int ai = 3;
  long warmup = 0;
  while (ai + 1 < argc && !strncmp(argv[ai], "--", 2)) {
    if (!strcmp(argv[ai], "--socks")) {
      if (!parse_proxy(argv[ai + 1], deflt)) return 2;
    } else if (!strcmp(argv[ai], "--src")) {
      parse_addr(argv[ai + 1], 0, &deflt->src);
      deflt->use_src = 1;
    } else if (!strcmp(argv[ai], "--leg")) {
      if (nlegs == MAX_LEGS || !parse_leg(argv[ai + 1], &legs[nlegs])) return 2;
      nlegs++;
    } else if (!strcmp(argv[ai], "--warmup")) {
      warmup = atol(argv[ai + 1]);
    } else {
      return 2;
    }
    ai += 2;
  }
  if (nlegs && strcmp(mode, "rtt")) return 2;
  if (!nlegs) nlegs = 1; /* the one leg the --socks/--src options above describe */
  long a = ai < argc ? atol(argv[ai]) : 0;
  long long b = ai + 1 < argc ? atoll(argv[ai + 1]) : 0;
  long conc;
  if (!strcmp(mode, "bulk")) {
    conc = target = a;
    per_bytes = b / a;
  } else if (!strcmp(mode, "up")) {
    conc = target = 1;
    per_bytes = a;
  } else if (!strcmp(mode, "conn")) {
    conc = a;
    target = -1;
    t_end = now() + b;
  } else if (!strcmp(mode, "idle")) {
    target = a;
    conc = a < 64 ? a : 64;
  } else if (!strcmp(mode, "rtt")) {
    conc = target = nlegs;
    rtt_warm = warmup * nlegs;
    rtt_left = (a + warmup) * nlegs;
    per_bytes = b;
    if (a < 1 || b < 1 || b > BUF || warmup < 0) return 2;
    for (int i = 0; i < nlegs; i++) rtt_us[i] = calloc(a, sizeof *rtt_us[i]);
  } else {
    return 2;
  }
  if (!strcmp(mode, "bulk")) {
    devnull = open("/dev/null", O_WRONLY);
    if (devnull < 0 || pipe(sink) < 0) die("sink");
    fcntl(sink[1], F_SETPIPE_SZ, BUF);
  }
  struct cconn *pool = calloc(conc, sizeof *pool);
  struct cconn **held = !strcmp(mode, "idle") ? calloc(a, sizeof *held) : NULL;
  long nheld = 0;
  double t0 = now();
  for (long i = 0; i < conc; i++) {
    struct cconn *c = held ? calloc(1, sizeof *c) : &pool[i];
    /* rtt: connection i is leg i's */
    c->leg = !strcmp(mode, "rtt") ? &legs[i] : deflt;
    if (!strcmp(mode, "rtt")) rtt_conn[i] = c;
    if (cstart(c) < 0) failed++;
  }
  struct epoll_event ev[256];
  while (active > 0) {
    int n = epoll_wait(ep, ev, 256, 1000);
    for (int i = 0; i < n; i++) {
      struct cconn *c = ev[i].data.ptr;
      int ok = 0;
      if (!cstep(c, ev[i].events, &ok)) continue;
      active--;
      if (ok) done++;
      else failed++;
      if (held && ok) {
        held[nheld++] = c;
      } else {
        close(c->fd);
        if (held) free(c);
      }
      int more = target < 0 ? now() < t_end : (held ? started < target : 0);
      if (more) {
        struct cconn *d = held ? calloc(1, sizeof *d) : c;
        d->leg = deflt;
        if (cstart(d) < 0) failed++;
      }
    }
    /* rtt: the last round trip ended one leg; the others are done with too */
    if (nlegs > 1 && rtt_left == 0) break;
  }
  double secs = now() - t0;
  if (held) {
    printf("{\"held\":%ld,\"failed\":%ld}\n", nheld, failed);
    fflush(stdout);
    char line[16];
    (void)!read(0, line, sizeof line);
    for (long i = 0; i < nheld; i++) close(held[i]->fd);
    printf("{\"closed\":%ld}\n", nheld);
  } else if (!strcmp(mode, "conn")) {
    printf("{\"done\":%ld,\"failed\":%ld,\"secs\":%.3f}\n", done, failed, secs);
  } else if (!strcmp(mode, "rtt")) {
    /* one leg: the flat line of old; --leg: one entry per leg */
    int named = legs[0].name[0] != 0;
    printf(named ? "{\"count\":%ld,\"failed\":%ld,\"legs\":[" : "{\"count\":%ld,\"failed\":%ld,", rtt_n[0], failed);
    for (int l = 0; l < nlegs; l++) {
      long n = rtt_n[l];
      double sum = 0, *us = rtt_us[l];
      for (long i = 0; i < n; i++) sum += us[i];
      qsort(us, n, sizeof *us, cmp_double);
#define AT(f) (n ? us[(long)((n - 1) * (f))] : 0)
      if (named) printf("%s{\"name\":\"%s\",\"count\":%ld,", l ? "," : "", legs[l].name, n);
      printf("\"median_us\":%.1f,\"p10_us\":%.1f,\"p90_us\":%.1f,\"mean_us\":%.1f}", AT(0.5), AT(0.1), AT(0.9), n ? sum / n : 0);
#undef AT
    }
    printf(named ? "]}\n" : "\n");
  } else {
    printf("{\"bytes\":%lld,\"failed\":%ld,\"secs\":%.3f}\n", total_bytes, failed, secs);
  }
  return 0;
}

int main(int argc, char **argv) {
  memset(buf, 'x', BUF);
  ep = epoll_create1(0);
  if (argc >= 3 && !strcmp(argv[1], "origin")) origin(atoi(argv[2]));
  if (argc >= 2 && !strcmp(argv[1], "client")) {
    int rc = client(argc - 2, argv + 2);
    if (rc == 2) fprintf(stderr, "usage: see the comment at the top of bench/loadgen.c\n");
    return rc;
  }
  fprintf(stderr, "usage: loadgen origin PORT | loadgen client MODE DEST_IP DEST_PORT [--socks IP:PORT] [--src IP] ARGS...\n");
  return 2;
}
