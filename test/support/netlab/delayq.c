/*
 * delayq: holds every packet of one NFQUEUE for a fixed time, then accepts it, in arrival order.
 *
 * This kernel has no netem (tc qdisc netem) and no nft `queue` expression (CONFIG_NFT_QUEUE is
 * off), but it has the xtables NFQUEUE target and nftables' xt compat layer. So delayq installs
 * its own rule: it appends one nftables rule whose only expression is the xt target NFQUEUE
 * (revision 3) to an existing regular chain, through raw nfnetlink (the `nft` tool cannot create
 * xt expressions and iptables is not installed). The caller's nftables ruleset decides which
 * packets jump to that chain.
 *
 * Usage: delayq <queue-num> <delay-ms> <ip-table> <chain>
 *   stdin:  "delay <ms>\n" changes the delay for packets queued from then on; EOF exits.
 *   stdout: "ready" once the queue is bound and the rule is in; "delay <ms>" after each change.
 *
 * Packets leave in arrival order (a FIFO whose due times never decrease, like a wire), so a
 * lowered delay never reorders packets. Without a listener the kernel drops queued packets
 * (no bypass flag): a dead delayq shows up as loss, never as a silently undelayed path.
 *
 * Build: gcc -O2 -Wall -o delayq delayq.c -lnetfilter_queue
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_tables_compat.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/xt_NFQUEUE.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

/* libnfnetlink ships an older copy of linux/netfilter/nfnetlink.h that shadows the kernel's */
#ifndef NFNL_MSG_BATCH_BEGIN
#define NFNL_MSG_BATCH_BEGIN NLMSG_MIN_TYPE
#define NFNL_MSG_BATCH_END (NLMSG_MIN_TYPE + 1)
#endif
#ifndef NFNL_SUBSYS_NFTABLES
#define NFNL_SUBSYS_NFTABLES 10
#endif

#define RING_SIZE 65536 /* power of two, well above the kernel queue length we ask for */
#define QUEUE_MAXLEN 8192

struct held {
  uint32_t id;
  uint64_t due_ns;
};

static struct held ring[RING_SIZE];
static size_t head, tail; /* head: next to release; tail: next free slot */
static uint64_t delay_ns;
static uint64_t last_due_ns;
static struct nfq_q_handle *qh;

static void die(const char *what) {
  fprintf(stderr, "delayq: %s: %s\n", what, strerror(errno));
  exit(1);
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void accept_packet(uint32_t id) {
  if (nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL) < 0) fprintf(stderr, "delayq: verdict for %u failed\n", id);
}

static int on_packet(struct nfq_q_handle *q, struct nfgenmsg *msg, struct nfq_data *nfa, void *data) {
  (void)q;
  (void)msg;
  (void)data;
  struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
  if (!ph) return 0;
  uint32_t id = ntohl(ph->packet_id);
  uint64_t due = now_ns() + delay_ns;
  if (due < last_due_ns) due = last_due_ns; /* keep arrival order after a lowered delay */
  if (delay_ns == 0 && head == tail) {
    accept_packet(id);
    return 0;
  }
  if (tail - head >= RING_SIZE) {
    /* cannot happen with QUEUE_MAXLEN < RING_SIZE; drop rather than corrupt the ring */
    nfq_set_verdict(qh, id, NF_DROP, 0, NULL);
    return 0;
  }
  ring[tail % RING_SIZE] = (struct held){ .id = id, .due_ns = due };
  tail++;
  last_due_ns = due;
  return 0;
}

/* Releases every due packet and arms the timer for the next one (absolute CLOCK_MONOTONIC). */
static void release_due(int tfd) {
  uint64_t now = now_ns();
  while (head != tail && ring[head % RING_SIZE].due_ns <= now) {
    accept_packet(ring[head % RING_SIZE].id);
    head++;
  }
  struct itimerspec its = { 0 };
  if (head != tail) {
    uint64_t due = ring[head % RING_SIZE].due_ns;
    its.it_value.tv_sec = (time_t)(due / 1000000000ull);
    its.it_value.tv_nsec = (long)(due % 1000000000ull);
  }
  if (timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0) die("timerfd_settime");
}

/* ---- raw nfnetlink: append `xt target NFQUEUE num <q>` to table ip <table> chain <chain> ---- */

struct msgbuf {
  char data[4096];
  size_t len;
};

static void *put(struct msgbuf *b, size_t n) {
  size_t aligned = NLMSG_ALIGN(n);
  if (b->len + aligned > sizeof b->data) {
    fprintf(stderr, "delayq: netlink message too large\n");
    exit(1);
  }
  void *p = b->data + b->len;
  memset(p, 0, aligned);
  b->len += aligned;
  return p;
}

static struct nlmsghdr *msg_start(struct msgbuf *b, uint16_t type, uint16_t flags, uint8_t family, uint16_t res_id,
                                  uint32_t seq) {
  struct nlmsghdr *nlh = put(b, sizeof *nlh);
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = flags;
  nlh->nlmsg_seq = seq;
  struct nfgenmsg *g = put(b, sizeof *g);
  g->nfgen_family = family;
  g->version = NFNETLINK_V0;
  g->res_id = htons(res_id);
  return nlh;
}

static void msg_end(struct msgbuf *b, struct nlmsghdr *nlh) { nlh->nlmsg_len = (uint32_t)(b->data + b->len - (char *)nlh); }

static void attr(struct msgbuf *b, uint16_t type, const void *val, size_t n) {
  struct nlattr *a = put(b, NLA_HDRLEN + n);
  a->nla_type = type;
  a->nla_len = (uint16_t)(NLA_HDRLEN + n);
  memcpy((char *)a + NLA_HDRLEN, val, n);
}

static struct nlattr *nest_start(struct msgbuf *b, uint16_t type) {
  struct nlattr *a = put(b, NLA_HDRLEN);
  a->nla_type = type | NLA_F_NESTED;
  return a;
}

static void nest_end(struct msgbuf *b, struct nlattr *a) { a->nla_len = (uint16_t)(b->data + b->len - (char *)a); }

static void install_rule(const char *table, const char *chain, uint16_t qnum) {
  int fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER);
  if (fd < 0) die("netlink socket");
  struct sockaddr_nl local = { .nl_family = AF_NETLINK };
  if (bind(fd, (struct sockaddr *)&local, sizeof local) < 0) die("netlink bind");

  struct msgbuf b = { .len = 0 };
  uint32_t seq = (uint32_t)time(NULL);
  struct nlmsghdr *begin = msg_start(&b, NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, AF_UNSPEC, NFNL_SUBSYS_NFTABLES, seq);
  msg_end(&b, begin);

  struct nlmsghdr *rule = msg_start(&b, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE,
                                    NLM_F_REQUEST | NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK, NFPROTO_IPV4, 0, seq + 1);
  attr(&b, NFTA_RULE_TABLE, table, strlen(table) + 1);
  attr(&b, NFTA_RULE_CHAIN, chain, strlen(chain) + 1);
  struct nlattr *exprs = nest_start(&b, NFTA_RULE_EXPRESSIONS);
  struct nlattr *elem = nest_start(&b, NFTA_LIST_ELEM);
  attr(&b, NFTA_EXPR_NAME, "target", sizeof "target");
  struct nlattr *data = nest_start(&b, NFTA_EXPR_DATA);
  attr(&b, NFTA_TARGET_NAME, "NFQUEUE", sizeof "NFQUEUE");
  uint32_t rev = htonl(3);
  attr(&b, NFTA_TARGET_REV, &rev, sizeof rev);
  char info[8] = { 0 }; /* struct xt_NFQ_info_v3, padded to XT_ALIGN */
  struct xt_NFQ_info_v3 v3 = { .queuenum = qnum, .queues_total = 1, .flags = 0 };
  memcpy(info, &v3, sizeof v3);
  attr(&b, NFTA_TARGET_INFO, info, sizeof info);
  nest_end(&b, data);
  nest_end(&b, elem);
  nest_end(&b, exprs);
  msg_end(&b, rule);

  struct nlmsghdr *end = msg_start(&b, NFNL_MSG_BATCH_END, NLM_F_REQUEST, AF_UNSPEC, NFNL_SUBSYS_NFTABLES, seq + 2);
  msg_end(&b, end);

  struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
  if (sendto(fd, b.data, b.len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) die("netlink send");

  char reply[8192];
  ssize_t n = recv(fd, reply, sizeof reply, 0);
  if (n < 0) die("netlink recv");
  for (struct nlmsghdr *h = (struct nlmsghdr *)reply; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
    if (h->nlmsg_type != NLMSG_ERROR) continue;
    struct nlmsgerr *e = NLMSG_DATA(h);
    if (e->error != 0) {
      errno = -e->error;
      die("adding the NFQUEUE rule");
    }
    close(fd);
    return;
  }
  fprintf(stderr, "delayq: no acknowledgement for the NFQUEUE rule\n");
  exit(1);
}

static uint64_t parse_ms(const char *s) {
  char *end;
  double ms = strtod(s, &end);
  if (end == s || ms < 0 || ms > 60000) {
    fprintf(stderr, "delayq: bad delay ms: %s\n", s);
    exit(2);
  }
  return (uint64_t)(ms * 1e6 + 0.5);
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: delayq <queue-num> <delay-ms> <ip-table> <chain>\n");
    return 2;
  }
  uint16_t qnum = (uint16_t)atoi(argv[1]);
  delay_ns = parse_ms(argv[2]);

  prctl(PR_SET_TIMERSLACK, 1UL); /* 1 ns instead of the default 50 us: release on time */
  /* A busy 2-core test machine would otherwise delay the release by whole scheduler slices. The
   * loop blocks in poll(), so a real-time priority costs nothing while idle. */
  struct sched_param sp = { .sched_priority = 10 };
  if (sched_setscheduler(0, SCHED_FIFO, &sp) < 0) fprintf(stderr, "delayq: no real-time priority: %s\n", strerror(errno));

  struct nfq_handle *h = nfq_open();
  if (!h) die("nfq_open");
  qh = nfq_create_queue(h, qnum, on_packet, NULL);
  if (!qh) die("nfq_create_queue");
  if (nfq_set_mode(qh, NFQNL_COPY_META, 0) < 0) die("nfq_set_mode");
  if (nfq_set_queue_maxlen(qh, QUEUE_MAXLEN) < 0) die("nfq_set_queue_maxlen");
  int qfd = nfq_fd(h);
  int rcvbuf = 8 * 1024 * 1024; /* root: FORCE lifts rmem_max, so bursts do not overrun the socket */
  if (setsockopt(qfd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0) die("SO_RCVBUFFORCE");

  install_rule(argv[3], argv[4], qnum);

  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (tfd < 0) die("timerfd_create");

  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("ready\n");

  char buf[65536];
  char line[256];
  size_t line_len = 0;
  struct pollfd fds[3] = { { .fd = qfd, .events = POLLIN }, { .fd = tfd, .events = POLLIN }, { .fd = 0, .events = POLLIN } };
  for (;;) {
    if (poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    if (fds[0].revents & POLLIN) {
      ssize_t n = recv(qfd, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) nfq_handle_packet(h, buf, (int)n);
      else if (n < 0 && errno == ENOBUFS) fprintf(stderr, "delayq: queue overrun, packets lost\n");
    }
    if (fds[1].revents & POLLIN) {
      uint64_t expirations;
      if (read(tfd, &expirations, sizeof expirations) < 0 && errno != EAGAIN) die("timerfd read");
    }
    /* a packet arrival may need the timer armed; a timer expiry releases packets */
    release_due(tfd);
    if (fds[2].revents & (POLLIN | POLLHUP)) {
      ssize_t n = read(0, line + line_len, sizeof line - 1 - line_len);
      if (n <= 0) break; /* parent gone: exit, the kernel drops what is still queued */
      line_len += (size_t)n;
      line[line_len] = '\0';
      char *nl;
      while ((nl = strchr(line, '\n'))) {
        *nl = '\0';
        if (strncmp(line, "delay ", 6) == 0) {
          delay_ns = parse_ms(line + 6);
          printf("delay %s\n", line + 6);
        }
        size_t rest = line_len - (size_t)(nl + 1 - line);
        memmove(line, nl + 1, rest + 1);
        line_len = rest;
      }
      if (line_len >= sizeof line - 1) line_len = 0;
    }
  }
  nfq_destroy_queue(qh);
  nfq_close(h);
  return 0;
}
