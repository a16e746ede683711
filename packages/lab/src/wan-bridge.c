/*
 * wan-bridge: a userspace L2 bridge between two interfaces that emulates a WAN link
 * (there is no netem on the lab machines).
 *
 *   wan-bridge IF_UP_IN IF_DOWN_IN CONTROL_SOCKET_PATH
 *
 * Frames read on the first interface leave on the second ("up"), and the reverse ("down").
 * Per direction: random loss at arrival, a bottleneck (token rate + byte-limited tail-drop
 * queue), then a constant propagation delay (a FIFO, since the delay is constant).
 * The interfaces must have every offload off (ethtool -K DEV tso off gso off gro off tx off rx off),
 * otherwise frames carry partial checksums or exceed the MTU.
 *
 * Timing: a frame's delay counts from its kernel arrival stamp (SO_TIMESTAMPNS), not from when
 * this process got around to reading it, and the loop asks to wake up early by the timer's
 * learned overshoot (ppoll oversleeps by ~0.07-0.12 ms on these VMs), sending frames due within
 * SEND_EARLY_NS at once. No spinning: the error is the overshoot's jitter, tens of us, and
 * other labs on the machine keep their CPU. It runs SCHED_FIFO when allowed, so a loaded
 * machine does not delay frames by milliseconds.
 *
 * Control: a unix stream socket, one line per connection, one reply line:
 *   set up|down|both delay=MS rate=MBIT loss=PCT queue=PKTS   (rate 0 = unlimited)
 *   on | off                                                  (link switch; off drops everything)
 *   stats                                                     (counters per direction)
 *   get                                                       (current parameters)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define SLOTS 8192
#define SLOT_BYTES 2048
#define FRAME_OVERHEAD 0 /* count L2 frame bytes, as tbf does */

struct frame {
  uint64_t due;
  uint32_t len;
  unsigned char data[SLOT_BYTES];
};

struct params {
  double delay_ms;
  double rate_mbit; /* 0 = unlimited */
  double loss_pct;
  uint32_t queue_pkts;
};

struct dir {
  const char *name;
  int in, out;
  struct params p;
  struct frame *ring;
  uint32_t head, count;
  uint64_t busy_until; /* when the bottleneck finishes sending what it holds */
  uint64_t pass, pass_bytes, drop_loss, drop_queue, drop_cut, drop_full, drop_big;
};

/* Wake this long before a frame is due (ppoll's smoothed overshoot). */
#define LEAD_MAX_NS 300000
#define SEND_EARLY_NS 30000
static int64_t lead_ns = 80000;

static int link_on = 1;
static uint64_t rng_state;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double rnd01(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (double)(rng_state >> 11) / (double)(1ull << 53);
}

static int open_if(const char *ifname) {
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL));
  if (fd < 0) { perror("socket(AF_PACKET)"); exit(1); }
  unsigned idx = if_nametoindex(ifname);
  if (!idx) { fprintf(stderr, "wan-bridge: no interface %s\n", ifname); exit(1); }
  struct sockaddr_ll sll = {0};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = (int)idx;
  if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) { perror("bind(AF_PACKET)"); exit(1); }
  int one = 1;
  if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) < 0) {
    perror("PACKET_IGNORE_OUTGOING");
    exit(1);
  }
  struct packet_mreq mr = {0};
  mr.mr_ifindex = (int)idx;
  mr.mr_type = PACKET_MR_PROMISC;
  if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) < 0) {
    perror("PACKET_ADD_MEMBERSHIP");
    exit(1);
  }
  if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) < 0) {
    perror("SO_TIMESTAMPNS");
    exit(1);
  }
  int buf = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof buf);
  return fd;
}

static void enqueue(struct dir *d, const unsigned char *buf, uint32_t len, uint64_t t) {
  if (!link_on) { d->drop_cut++; return; }
  if (len > SLOT_BYTES) { d->drop_big++; return; }
  if (d->p.loss_pct > 0 && rnd01() * 100.0 < d->p.loss_pct) { d->drop_loss++; return; }
  uint64_t leave = t;
  if (d->p.rate_mbit > 0) {
    double ns_per_byte = 8000.0 / d->p.rate_mbit; /* 8 bits / (Mbit/s) in ns */
    uint64_t start = d->busy_until > t ? d->busy_until : t;
    /* Tail drop when the bottleneck already holds queue_pkts full-size frames of work. */
    double backlog_bytes = (double)(start - t) / ns_per_byte;
    if (d->p.queue_pkts > 0 && backlog_bytes + len > (double)d->p.queue_pkts * 1514.0) {
      d->drop_queue++;
      return;
    }
    leave = start + (uint64_t)((len + FRAME_OVERHEAD) * ns_per_byte);
    d->busy_until = leave;
  }
  if (d->count == SLOTS) { d->drop_full++; return; }
  struct frame *f = &d->ring[(d->head + d->count) % SLOTS];
  f->due = leave + (uint64_t)(d->p.delay_ms * 1e6);
  f->len = len;
  memcpy(f->data, buf, len);
  d->count++;
}

/* Send every due frame; returns the next due time (0 if the queue is empty). */
static uint64_t release(struct dir *d, uint64_t t) {
  while (d->count) {
    struct frame *f = &d->ring[d->head];
    if (f->due > t) return f->due;
    ssize_t n = send(d->out, f->data, f->len, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == ENOBUFS)) return t + 200000; /* retry in 0.2 ms */
    if (n >= 0) { d->pass++; d->pass_bytes += f->len; }
    d->head = (d->head + 1) % SLOTS;
    d->count--;
  }
  return 0;
}

static uint64_t realtime_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Arrival time of each frame on CLOCK_MONOTONIC: the kernel's receive stamp (realtime) shifted
 * by the current realtime-monotonic offset; "now" when the stamp is missing or implausible. */
static void drain(struct dir *d) {
  static unsigned char buf[65536];
  union { char b[CMSG_SPACE(sizeof(struct timespec))]; struct cmsghdr align; } ctl;
  uint64_t mono = now_ns();
  int64_t off = (int64_t)realtime_ns() - (int64_t)mono;
  for (int i = 0; i < 512; i++) {
    struct iovec iov = {buf, sizeof buf};
    struct msghdr mh = {0};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl.b;
    mh.msg_controllen = sizeof ctl.b;
    ssize_t n = recvmsg(d->in, &mh, MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0) return;
    uint64_t t = now_ns();
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
        struct timespec ts;
        memcpy(&ts, CMSG_DATA(c), sizeof ts);
        int64_t stamp = (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec - off;
        if (stamp > 0 && (uint64_t)stamp <= t && t - (uint64_t)stamp < 50000000ull) t = (uint64_t)stamp;
      }
    }
    enqueue(d, buf, (uint32_t)n, t);
  }
}

static void parse_params(struct params *p, char *s) {
  for (char *tok = strtok(s, " \t\r\n"); tok; tok = strtok(NULL, " \t\r\n")) {
    char *eq = strchr(tok, '=');
    if (!eq) continue;
    *eq = 0;
    double v = atof(eq + 1);
    if (!strcmp(tok, "delay")) p->delay_ms = v;
    else if (!strcmp(tok, "rate")) p->rate_mbit = v;
    else if (!strcmp(tok, "loss")) p->loss_pct = v;
    else if (!strcmp(tok, "queue")) p->queue_pkts = (uint32_t)v;
  }
}

static int fmt_dir(char *out, size_t cap, struct dir *d) {
  return snprintf(out, cap,
                  "%s pass=%llu bytes=%llu loss=%llu qdrop=%llu cut=%llu full=%llu big=%llu queued=%u "
                  "delay=%g rate=%g lossp=%g queue=%u",
                  d->name, (unsigned long long)d->pass, (unsigned long long)d->pass_bytes,
                  (unsigned long long)d->drop_loss, (unsigned long long)d->drop_queue,
                  (unsigned long long)d->drop_cut, (unsigned long long)d->drop_full,
                  (unsigned long long)d->drop_big, d->count, d->p.delay_ms, d->p.rate_mbit,
                  d->p.loss_pct, d->p.queue_pkts);
}

static void control(int lfd, struct dir *up, struct dir *down) {
  int c = accept(lfd, NULL, NULL);
  if (c < 0) return;
  char line[512] = {0};
  size_t got = 0;
  /* One short line; wait briefly for it (the client writes it at once). */
  struct pollfd pf = {c, POLLIN, 0};
  while (got < sizeof line - 1 && !memchr(line, '\n', got) && poll(&pf, 1, 1000) > 0) {
    ssize_t n = read(c, line + got, sizeof line - 1 - got);
    if (n <= 0) break;
    got += (size_t)n;
  }
  char reply[1024] = "ok\n";
  if (!strncmp(line, "set ", 4)) {
    char *rest = line + 4;
    int which = !strncmp(rest, "up", 2) ? 1 : !strncmp(rest, "down", 4) ? 2 : !strncmp(rest, "both", 4) ? 3 : 0;
    if (!which) snprintf(reply, sizeof reply, "err direction must be up, down or both\n");
    else {
      char copy[512];
      if (which & 1) { snprintf(copy, sizeof copy, "%s", rest); parse_params(&up->p, copy); }
      if (which & 2) { snprintf(copy, sizeof copy, "%s", rest); parse_params(&down->p, copy); }
    }
  } else if (!strncmp(line, "off", 3)) {
    link_on = 0;
    up->drop_cut += up->count; up->count = 0;
    down->drop_cut += down->count; down->count = 0;
  } else if (!strncmp(line, "on", 2)) {
    link_on = 1;
  } else if (!strncmp(line, "stats", 5) || !strncmp(line, "get", 3)) {
    int n = snprintf(reply, sizeof reply, "ok link=%s ", link_on ? "on" : "off");
    n += fmt_dir(reply + n, sizeof reply - (size_t)n, up);
    n += snprintf(reply + n, sizeof reply - (size_t)n, " | ");
    n += fmt_dir(reply + n, sizeof reply - (size_t)n, down);
    snprintf(reply + n, sizeof reply - (size_t)n, "\n");
  } else {
    snprintf(reply, sizeof reply, "err unknown command\n");
  }
  ssize_t w = write(c, reply, strlen(reply));
  (void)w;
  close(c);
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: wan-bridge IF_A IF_B CONTROL_SOCKET\n");
    return 2;
  }
  prctl(PR_SET_PDEATHSIG, SIGKILL); /* die with the lab process, even on kill -9 */
  prctl(PR_SET_TIMERSLACK, 1UL);
  struct sched_param sp = {.sched_priority = 10};
  if (sched_setscheduler(0, SCHED_FIFO, &sp) < 0) perror("wan-bridge: SCHED_FIFO (continuing without)");
  signal(SIGPIPE, SIG_IGN);
  rng_state = now_ns() ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ull;

  struct dir up = {.name = "up"}, down = {.name = "down"};
  up.in = open_if(argv[1]);
  up.out = open_if(argv[2]);
  down.in = up.out;
  down.out = up.in;
  up.ring = calloc(SLOTS, sizeof(struct frame));
  down.ring = calloc(SLOTS, sizeof(struct frame));
  if (!up.ring || !down.ring) { fprintf(stderr, "wan-bridge: out of memory\n"); return 1; }
  up.p.queue_pkts = down.p.queue_pkts = 1000;

  int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sun = {0};
  sun.sun_family = AF_UNIX;
  snprintf(sun.sun_path, sizeof sun.sun_path, "%s", argv[3]);
  unlink(argv[3]);
  if (bind(lfd, (struct sockaddr *)&sun, sizeof sun) < 0 || listen(lfd, 16) < 0) {
    perror("control socket");
    return 1;
  }
  printf("ready\n");
  fflush(stdout);

  for (;;) {
    uint64_t t = now_ns();
    uint64_t a = release(&up, t + SEND_EARLY_NS), b = release(&down, t + SEND_EARLY_NS);
    uint64_t next = a && b ? (a < b ? a : b) : (a ? a : b);
    struct pollfd pf[3] = {{up.in, POLLIN, 0}, {down.in, POLLIN, 0}, {lfd, POLLIN, 0}};
    struct timespec ts, *tsp = NULL;
    uint64_t target = 0;
    if (next) {
      target = next > (uint64_t)lead_ns ? next - (uint64_t)lead_ns : next;
      uint64_t wait = target > t ? target - t : 0;
      ts.tv_sec = (time_t)(wait / 1000000000ull);
      ts.tv_nsec = (long)(wait % 1000000000ull);
      tsp = &ts;
    }
    int r = ppoll(pf, 3, tsp, NULL);
    if (r < 0 && errno != EINTR) { perror("ppoll"); return 1; }
    if (r == 0 && target > t) {
      /* A timed sleep that ran out: learn how late the timer fires. */
      int64_t over = (int64_t)(now_ns() - target);
      lead_ns += (over - lead_ns) / 8;
      if (lead_ns < 0) lead_ns = 0;
      if (lead_ns > LEAD_MAX_NS) lead_ns = LEAD_MAX_NS;
    }
    if (r <= 0) continue;
    if (pf[0].revents & POLLIN) drain(&up);
    if (pf[1].revents & POLLIN) drain(&down);
    if (pf[2].revents & POLLIN) control(lfd, &up, &down);
  }
}
