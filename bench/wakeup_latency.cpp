// bench/wakeup_latency.cpp: how long after an enqueue's commit a render worker
// LISTENing on queue_jobs is woken.
//
//   wakeup_latency CONNINFO COUNT GAP_MS JOB_TYPE [PAYLOAD]
//
// Two connections: a listener (LISTEN queue_jobs) and an enqueuer. COUNT
// times, GAP_MS apart, the enqueuer runs SELECT queue.enqueue(JOB_TYPE) in
// autocommit while one poll() loop watches both sockets, so both events are
// timestamped by the same clock as they happen: t_commit when the enqueue's
// result (after its commit) reaches the client, t_wake when a notification on
// queue_jobs reaches the listener; when PAYLOAD is given, only one whose
// payload is PAYLOAD or empty (which stands for any job type) counts. The
// latency is t_wake - t_commit; it is negative when the wake-up overtook the
// commit's acknowledgement (e.g. a NOTIFY sent by the committing backend).
// Who sends the NOTIFY (the enqueuing transaction, or the background worker
// relaying it) does not matter to the measurement.
//
// Prints one line of key=value pairs (milliseconds) for bench/run.sh, e.g.
//   sent=300 woken=300 missed=0 early=12 p50=0.412 p90=0.731 p99=1.920 max=3.100 min=-0.050
// Exits 1 on a connection or SQL error, or when the first wake-ups never come.
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <libpq-fe.h>

namespace {

using Clock = std::chrono::steady_clock;

// A wake-up later than this counts as missed (the background worker's default
// tick is 1 s, so a relay that waits for the tick still shows).
constexpr auto kWakeTimeout = std::chrono::milliseconds(2500);
// Give up when this many wake-ups in a row never came.
constexpr int kMaxMissedInARow = 5;

[[noreturn]] void Die(const char* what, PGconn* conn) {
  std::fprintf(stderr, "wakeup_latency: %s: %s", what, conn ? PQerrorMessage(conn) : "\n");
  std::exit(1);
}

PGconn* Connect(const char* conninfo) {
  PGconn* conn = PQconnectdb(conninfo);
  if (PQstatus(conn) != CONNECTION_OK) Die("connect", conn);
  return conn;
}

void Exec(PGconn* conn, const char* sql) {
  PGresult* res = PQexec(conn, sql);
  ExecStatusType status = PQresultStatus(res);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) Die(sql, conn);
  PQclear(res);
}

double Millis(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// Whether a notification that has arrived is the one awaited; consumes all.
bool TakeNotifications(PGconn* listener, const char* payload) {
  if (!PQconsumeInput(listener)) Die("listener input", listener);
  bool matched = false;
  while (PGnotify* n = PQnotifies(listener)) {
    if (std::strcmp(n->relname, "queue_jobs") == 0 &&
        (payload == nullptr || n->extra[0] == '\0' || std::strcmp(n->extra, payload) == 0))
      matched = true;
    PQfreemem(n);
  }
  return matched;
}

// One enqueue; returns the latency in ms, or NAN when no wake-up came.
double MeasureOne(PGconn* listener, PGconn* enqueuer, const char* job_type, const char* payload) {
  TakeNotifications(listener, payload);  // forget wake-ups of earlier enqueues
  const char* params[1] = {job_type};
  if (!PQsendQueryPrepared(enqueuer, "enqueue", 1, params, nullptr, nullptr, 0))
    Die("send enqueue", enqueuer);
  bool committed = false, woken = false;
  Clock::time_point t_commit{}, t_wake{};
  Clock::time_point give_up = Clock::now() + kWakeTimeout;
  while (!(committed && woken)) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(give_up - Clock::now());
    if (left.count() <= 0) break;
    pollfd fds[2] = {{PQsocket(listener), POLLIN, 0}, {PQsocket(enqueuer), POLLIN, 0}};
    int nfds = committed ? 1 : 2;
    if (poll(fds, nfds, static_cast<int>(left.count())) < 0) continue;
    Clock::time_point now = Clock::now();
    if (!woken && (fds[0].revents & POLLIN) && TakeNotifications(listener, payload)) {
      woken = true;
      t_wake = now;
    }
    if (!committed && nfds == 2 && (fds[1].revents & POLLIN)) {
      if (!PQconsumeInput(enqueuer)) Die("enqueuer input", enqueuer);
      while (!PQisBusy(enqueuer)) {
        PGresult* res = PQgetResult(enqueuer);
        if (res == nullptr) {
          committed = true;
          t_commit = now;
          break;
        }
        if (PQresultStatus(res) != PGRES_TUPLES_OK) Die("enqueue", enqueuer);
        PQclear(res);
      }
    }
  }
  if (!committed) Die("the enqueue did not return in time", nullptr);
  return woken ? Millis(t_wake - t_commit) : NAN;
}

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return NAN;
  size_t rank = static_cast<size_t>(std::ceil(p * sorted.size()));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5 || argc > 6) {
    std::fprintf(stderr, "usage: %s CONNINFO COUNT GAP_MS JOB_TYPE [PAYLOAD]\n", argv[0]);
    return 2;
  }
  const char* conninfo = argv[1];
  int count = std::atoi(argv[2]);
  int gap_ms = std::atoi(argv[3]);
  const char* job_type = argv[4];
  const char* payload = argc == 6 ? argv[5] : nullptr;

  PGconn* listener = Connect(conninfo);
  PGconn* enqueuer = Connect(conninfo);
  Exec(listener, "LISTEN queue_jobs");
  PGresult* prepared = PQprepare(enqueuer, "enqueue", "SELECT queue.enqueue($1)", 1, nullptr);
  if (PQresultStatus(prepared) != PGRES_COMMAND_OK) Die("prepare", enqueuer);
  PQclear(prepared);

  MeasureOne(listener, enqueuer, job_type, payload);  // warm both sessions up
  std::vector<double> woken;
  int missed = 0, missed_in_a_row = 0;
  for (int i = 0; i < count; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(gap_ms));
    double ms = MeasureOne(listener, enqueuer, job_type, payload);
    if (std::isnan(ms)) {
      missed++;
      if (++missed_in_a_row >= kMaxMissedInARow && woken.empty()) {
        std::fprintf(stderr, "wakeup_latency: no notification on queue_jobs after %d enqueues\n",
                     missed);
        return 1;
      }
      continue;
    }
    missed_in_a_row = 0;
    woken.push_back(ms);
  }
  std::sort(woken.begin(), woken.end());
  long early = std::count_if(woken.begin(), woken.end(), [](double ms) { return ms < 0; });
  std::printf(
      "sent=%d woken=%zu missed=%d early=%ld p50=%.3f p90=%.3f p99=%.3f max=%.3f min=%.3f\n", count,
      woken.size(), missed, early, Percentile(woken, 0.5), Percentile(woken, 0.9),
      Percentile(woken, 0.99), woken.empty() ? NAN : woken.back(),
      woken.empty() ? NAN : woken.front());
  PQfinish(listener);
  PQfinish(enqueuer);
  return 0;
}
