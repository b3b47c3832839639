// bench/soak_load.cpp: a steady mixed load on the queue for some minutes, with
// a table per minute, to show decay and bloat.
//
//   soak_load CONNINFO CLIENTS WARMUP MINUTES FAIL_PERCENT POLL_EVERY SERVER_PID
//             QUIET_STEAL [hold-snapshot]
//
// Each of CLIENTS threads (one connection each, worker id soak-<n>, registered)
// repeats one cycle:
//   - an app enqueues a job (autocommit) of the usual mix: 30% doubt, 40%
//     topic_short, 30% daily_ca, 20% of them Manim renders. It skips the
//     enqueue FAIL_PERCENT% of the time, because every failed attempt comes
//     back later as a retry: so the backlog stays about where it started;
//   - a render worker claims one job and ends it in one transaction:
//     BEGIN; dequeue(w, 1); complete(id, w, NULL, attempt) or, FAIL_PERCENT%
//     of the time, fail(id, w, error, true, attempt); COMMIT;
//   - every POLL_EVERY cycles a student polls position() or job_status() of
//     one of the jobs this client enqueued lately.
// The background worker (queue.enabled) ticks meanwhile: releases retries,
// prunes finished jobs past settings.retention.
//
// With "hold-snapshot", one more session holds a REPEATABLE READ transaction
// (a snapshot) open through the counted minutes, from the end of the warm-up
// to the end, so vacuum can remove nothing meanwhile.
//
// The load runs WARMUP minutes before the MINUTES that count: the first
// minutes of a soak run on a freshly emptied table with nothing old enough to
// prune (retention is a minute), so they are not the steady state the later
// minutes are compared with. Warm-up minutes are printed (w1, w2, ...) but
// are left out of the figures on the last line.
//
// Every minute it prints: claims completed/s, enqueues/s, fails/s, claims that
// found nothing, dequeue latency p50/p99 (the dequeue statement alone, not the
// commit), position/job_status p99, jobs queued (stats()), finished jobs past
// settings.retention not pruned yet, and the size of queue.jobs and
// queue.job_events with their indexes (pg_total_relation_size), and the
// server's CPU per completed job: the CPU time of the postmaster SERVER_PID
// and all its processes, from /proc (this machine's server only).
// Throughput follows the machine as much as the queue: the disk's fsync
// latency drifts over minutes, and on a virtual machine the host takes CPU
// time away (steal) by the tens of percent in some hours, which also makes
// the same work cost more CPU time. So each minute also shows the work a job
// costs in units the machine does not move: buffer accesses (shared buffer
// hits and reads of the database, every process of the server) and WAL bytes
// per completed job, and the machine: its steal (the share of its CPU time
// the host took) and a probe, the CPU time a fixed piece of work takes in this
// process (random reads over 16 MB, in the thread's own CPU time, which leaves
// stolen time out: it shows the speed of the machine's cores and memory, not
// the steal). Decay in the queue's own work shows in the work per job; a fall
// in throughput with the work per job flat and the steal up is the machine.
// The last line is for bench/run.sh (the counted minutes only):
//   SOAK first=<completed/s> last=<completed/s> ratio=<last/first> mean=<completed/s>
//        dequeue_p99=<ms> cpu_first=<us/job> cpu_last=<us/job> cpu_ratio=<last/first>
//        buffers_first=<per job> buffers_last=<per job> buffers_ratio=<last/first>
//        wal_first=<bytes/job> wal_last=<bytes/job> wal_ratio=<last/first>
//        steal_first=<%> steal_last=<%> probe_first=<ms> probe_last=<ms>
//        cpu_probe_ratio=<cpu_ratio over the probe's last/first>
//        quiet_minutes=<n> quiet_first=<completed/s> quiet_last=<completed/s>
//        quiet_ratio=<last/first>
// where the quiet minutes are the counted minutes with steal of at most
// QUIET_STEAL %, so that the first and last of them compare the queue on the
// machine's own speed (n/a with fewer than two).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include <libpq-fe.h>

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void Die(const char* what, PGconn* conn) {
  std::fprintf(stderr, "soak_load: %s: %s", what, conn ? PQerrorMessage(conn) : "\n");
  std::exit(1);
}

PGconn* Connect(const char* conninfo) {
  PGconn* conn = PQconnectdb(conninfo);
  if (PQstatus(conn) != CONNECTION_OK) Die("connect", conn);
  return conn;
}

// Run a statement; the result must be a command or rows. Caller clears.
PGresult* Run(PGconn* conn, const char* sql) {
  PGresult* res = PQexec(conn, sql);
  ExecStatusType status = PQresultStatus(res);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) Die(sql, conn);
  return res;
}

void Exec(PGconn* conn, const char* sql) { PQclear(Run(conn, sql)); }

PGresult* RunPrepared(PGconn* conn, const char* name, int n, const char* const* params) {
  PGresult* res = PQexecPrepared(conn, name, n, params, nullptr, nullptr, 0);
  if (PQresultStatus(res) != PGRES_TUPLES_OK) Die(name, conn);
  return res;
}

void Prepare(PGconn* conn, const char* name, const char* sql) {
  PGresult* res = PQprepare(conn, name, sql, 0, nullptr);
  if (PQresultStatus(res) != PGRES_COMMAND_OK) Die(name, conn);
  PQclear(res);
}

double Millis(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return NAN;
  std::sort(values.begin(), values.end());
  size_t rank = static_cast<size_t>(std::ceil(p * values.size()));
  return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
}

// What the clients did since the last minute's line.
struct Tally {
  long enqueued = 0, completed = 0, failed = 0, empty = 0, polls = 0;
  std::vector<double> dequeue_ms, poll_ms;

  void Add(const Tally& other) {
    enqueued += other.enqueued;
    completed += other.completed;
    failed += other.failed;
    empty += other.empty;
    polls += other.polls;
    dequeue_ms.insert(dequeue_ms.end(), other.dequeue_ms.begin(), other.dequeue_ms.end());
    poll_ms.insert(poll_ms.end(), other.poll_ms.begin(), other.poll_ms.end());
  }
};

struct Client {
  std::mutex mutex;
  Tally tally;  // guarded by mutex; taken by the reporter each minute
};

std::atomic<bool> stopping{false};

void RunClient(const char* conninfo, int n, int fail_percent, int poll_every, Client* client) {
  PGconn* conn = Connect(conninfo);
  std::string worker = "soak-" + std::to_string(n);
  const char* worker_param[1] = {worker.c_str()};
  Prepare(conn, "enqueue",
          "SELECT queue.enqueue($1, jsonb_build_object('topic', $2::int, 'lang', 'en'),"
          " 'student-' || $2, NULL, $3)");
  Prepare(conn, "dequeue", "SELECT id, attempts FROM queue.dequeue($1, 1)");
  Prepare(conn, "complete", "SELECT queue.complete($1, $2, NULL, $3)");
  Prepare(conn, "fail", "SELECT queue.fail($1, $2, 'render crashed (soak)', true, $3)");
  Prepare(conn, "position", "SELECT queue.position($1)");
  Prepare(conn, "job_status", "SELECT status FROM queue.job_status($1)");

  std::mt19937_64 random(n * 7919 + 1);
  std::uniform_int_distribution<int> percent(0, 99);
  std::vector<std::string> recent;  // ids this client enqueued lately
  size_t next_recent = 0;
  for (long cycle = 0; !stopping.load(std::memory_order_relaxed); cycle++) {
    Tally done;
    if (percent(random) >= fail_percent) {
      int mix = percent(random) % 10;
      const char* job_type = mix < 3 ? "doubt" : mix < 7 ? "topic_short" : "daily_ca";
      const char* resource = (mix == 5 || mix == 9) ? "manim" : nullptr;
      std::string topic = std::to_string(random() % 500);
      const char* params[3] = {job_type, topic.c_str(), resource};
      PGresult* res = RunPrepared(conn, "enqueue", 3, params);
      std::string id = PQgetvalue(res, 0, 0);
      PQclear(res);
      if (recent.size() < 64)
        recent.push_back(id);
      else
        recent[next_recent++ % recent.size()] = id;
      done.enqueued++;
    }

    Exec(conn, "BEGIN");
    Clock::time_point start = Clock::now();
    PGresult* claim = RunPrepared(conn, "dequeue", 1, worker_param);
    done.dequeue_ms.push_back(Millis(Clock::now() - start));
    if (PQntuples(claim) == 0) {
      done.empty++;
    } else {
      const char* params[3] = {PQgetvalue(claim, 0, 0), worker.c_str(), PQgetvalue(claim, 0, 1)};
      bool fail = percent(random) < fail_percent;
      PGresult* end = RunPrepared(conn, fail ? "fail" : "complete", 3, params);
      if (fail)
        done.failed++;
      else if (std::strcmp(PQgetvalue(end, 0, 0), "t") == 0)
        done.completed++;
      PQclear(end);
    }
    PQclear(claim);
    Exec(conn, "COMMIT");

    if (poll_every > 0 && cycle % poll_every == 0 && !recent.empty()) {
      // A job pruned meanwhile is unknown to job_status(): that error is fine here.
      const char* params[1] = {recent[random() % recent.size()].c_str()};
      const char* name = cycle / poll_every % 2 ? "position" : "job_status";
      start = Clock::now();
      PQclear(PQexecPrepared(conn, name, 1, params, nullptr, nullptr, 0));
      done.poll_ms.push_back(Millis(Clock::now() - start));
      done.polls++;
    }

    std::lock_guard<std::mutex> lock(client->mutex);
    client->tally.Add(done);
  }
  PQfinish(conn);
}

// Sizes and depth, as the reporter's session sees them now. Overdue: finished
// jobs past settings.retention that pruning has not removed yet.
struct Sizes {
  double jobs_mb, events_mb;
  long queued, overdue;
  double buffer_accesses, wal_bytes;  // cumulative since the server started
};

Sizes Measure(PGconn* monitor) {
  PGresult* res = Run(monitor,
                      "SELECT pg_total_relation_size('queue.jobs') / 1048576.0,"
                      " pg_total_relation_size('queue.job_events') / 1048576.0,"
                      " (SELECT queued FROM queue.stats()),"
                      " (SELECT count(*) FROM queue.jobs"
                      "   WHERE finished_at < now() - (SELECT retention FROM queue.settings)),"
                      " (SELECT blks_hit + blks_read FROM pg_stat_database"
                      "   WHERE datname = current_database()),"
                      " (SELECT wal_bytes FROM pg_stat_wal)");
  Sizes sizes{std::atof(PQgetvalue(res, 0, 0)), std::atof(PQgetvalue(res, 0, 1)),
              std::atol(PQgetvalue(res, 0, 2)), std::atol(PQgetvalue(res, 0, 3)),
              std::atof(PQgetvalue(res, 0, 4)), std::atof(PQgetvalue(res, 0, 5))};
  PQclear(res);
  return sizes;
}

// The CPU time (clock ticks) a process has used: fields 14 and 15 of
// /proc/PID/stat (user, system), with 16 and 17 (its reaped children) when
// asked. Fields count after the command name, which may hold spaces.
long ProcessTicks(const std::string& pid, bool with_reaped_children) {
  std::ifstream file("/proc/" + pid + "/stat");
  std::string line;
  if (!std::getline(file, line)) return 0;  // exited meanwhile: reaped by its parent
  std::istringstream fields(line.substr(line.rfind(')') + 2));
  std::vector<long> values;
  std::string field;
  while (fields >> field && values.size() < 15) values.push_back(std::atol(field.c_str()));
  if (values.size() < 15) return 0;
  // After the name, field 3 (state) is values[0]: field N is values[N - 3].
  long ticks = values[11] + values[12];
  if (with_reaped_children) ticks += values[13] + values[14];
  return ticks;
}

// The server's CPU time so far, in seconds: the postmaster, its reaped
// children, and its live children (backends, the background worker, ...).
double ServerCpuSeconds(const std::string& postmaster) {
  long ticks = ProcessTicks(postmaster, true);
  std::ifstream children("/proc/" + postmaster + "/task/" + postmaster + "/children");
  std::string child;
  while (children >> child) ticks += ProcessTicks(child, false);
  return static_cast<double>(ticks) / sysconf(_SC_CLK_TCK);
}

// The machine's CPU time so far, in clock ticks: all of it, and what the host
// took (steal), from the first line of /proc/stat.
struct MachineTicks {
  long total = 0, steal = 0;
};

MachineTicks ReadMachineTicks() {
  std::ifstream file("/proc/stat");
  std::string cpu;
  long user, nice, system, idle, iowait, irq, softirq, steal;
  MachineTicks ticks;
  if (file >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal)
    ticks = {user + nice + system + idle + iowait + irq + softirq + steal, steal};
  return ticks;
}

double StealPercent(const MachineTicks& from, const MachineTicks& to) {
  long total = to.total - from.total;
  return total > 0 ? 100.0 * (to.steal - from.steal) / total : NAN;
}

volatile uint64_t probe_sink;  // keeps the probe's walk from being optimised away

// The probe: the CPU time of this thread (neither waiting for a core nor
// steal counts) to follow 1M links of a random cycle through a 16 MB table,
// with some arithmetic at each, in ms. The same work every minute, so its
// time is the machine's speed at that minute.
double ProbeMillis() {
  static const std::vector<uint32_t> cycle = [] {
    std::vector<uint32_t> next(1 << 22);
    for (uint32_t i = 0; i < next.size(); i++) next[i] = i;
    std::mt19937 random(42);
    for (uint32_t i = next.size() - 1; i > 0; i--)  // Sattolo: one cycle through all
      std::swap(next[i], next[std::uniform_int_distribution<uint32_t>(0, i - 1)(random)]);
    return next;
  }();
  timespec start, end;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start);
  uint32_t at = 0;
  uint64_t mixed = 0;
  for (int i = 0; i < 1'000'000; i++) {
    at = cycle[at];
    mixed = mixed * 6364136223846793005u + at;
  }
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &end);
  probe_sink = mixed;
  return (end.tv_sec - start.tv_sec) * 1e3 + (end.tv_nsec - start.tv_nsec) / 1e6;
}

// One counted minute's figures.
struct Minute {
  double completed;  // claims completed a second
  double cpu_us;     // server CPU per completed job
  double buffers;    // shared buffer accesses per completed job
  double wal_bytes;  // WAL bytes per completed job
  double steal;      // % of the machine's CPU time the host took
  double probe_ms;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 9 || argc > 10 || (argc == 10 && std::strcmp(argv[9], "hold-snapshot") != 0)) {
    std::fprintf(stderr,
                 "usage: %s CONNINFO CLIENTS WARMUP MINUTES FAIL_PERCENT POLL_EVERY SERVER_PID"
                 " QUIET_STEAL"
                 " [hold-snapshot]\n",
                 argv[0]);
    return 2;
  }
  const char* conninfo = argv[1];
  int clients = std::atoi(argv[2]);
  int warmup = std::atoi(argv[3]);
  int minutes = std::atoi(argv[4]);
  int fail_percent = std::atoi(argv[5]);
  int poll_every = std::atoi(argv[6]);
  std::string postmaster = argv[7];
  double quiet_steal = std::atof(argv[8]);
  bool hold_snapshot = argc == 10;

  PGconn* monitor = Connect(conninfo);
  // Register the render workers before any claims (capacity: never the limit).
  for (int n = 0; n < clients; n++) {
    std::string sql = "SELECT queue.register_worker('soak-" + std::to_string(n) + "', NULL, 10000)";
    Exec(monitor, sql.c_str());
  }
  PGconn* holder = nullptr;
  auto hold_snapshot_now = [&] {
    holder = Connect(conninfo);
    Exec(holder, "BEGIN ISOLATION LEVEL REPEATABLE READ");
    Exec(holder, "SELECT count(*) FROM queue.settings");  // takes the snapshot
  };
  if (hold_snapshot && warmup == 0) hold_snapshot_now();

  Sizes sizes = Measure(monitor);
  std::printf(
      "  minute | completed/s | enqueued/s | failed/s | empty claims | dequeue p50 ms |"
      " p99 ms | poll p99 ms | queued | unpruned | jobs MB | events MB | CPU us/job |"
      " buffers/job | WAL B/job | steal %% | probe ms\n");
  std::printf(
      "  %6s | %11s | %10s | %8s | %12s | %14s | %6s | %11s | %6ld | %8ld | %7.1f | %9.1f |\n",
      "start", "", "", "", "", "", "", "", sizes.queued, sizes.overdue, sizes.jobs_mb,
      sizes.events_mb);
  std::fflush(stdout);

  ProbeMillis();  // builds the probe's table before the load starts
  std::vector<Client> state(clients);
  std::vector<std::thread> threads;
  for (int n = 0; n < clients; n++)
    threads.emplace_back(RunClient, conninfo, n, fail_percent, poll_every, &state[n]);

  std::vector<Minute> counted_minutes;
  std::vector<double> all_dequeue_ms;
  Clock::time_point start = Clock::now(), last = start;
  double cpu_last = ServerCpuSeconds(postmaster);
  MachineTicks machine_last = ReadMachineTicks();
  for (int minute = 1; minute <= warmup + minutes; minute++) {
    std::this_thread::sleep_until(start + std::chrono::minutes(minute));
    Tally tally;
    for (Client& client : state) {
      std::lock_guard<std::mutex> lock(client.mutex);
      tally.Add(client.tally);
      client.tally = Tally();
    }
    Clock::time_point now = Clock::now();
    double seconds = std::chrono::duration<double>(now - last).count();
    last = now;
    double cpu_now = ServerCpuSeconds(postmaster);
    double cpu_us_per_job =
        tally.completed > 0 ? (cpu_now - cpu_last) * 1e6 / tally.completed : NAN;
    cpu_last = cpu_now;
    MachineTicks machine_now = ReadMachineTicks();
    double steal = StealPercent(machine_last, machine_now);
    machine_last = machine_now;
    double probe = ProbeMillis();
    Sizes before = sizes;
    sizes = Measure(monitor);
    double per_job = tally.completed > 0 ? 1.0 / tally.completed : NAN;
    double buffers = (sizes.buffer_accesses - before.buffer_accesses) * per_job;
    double wal = (sizes.wal_bytes - before.wal_bytes) * per_job;
    double completed = tally.completed / seconds;
    bool counted = minute > warmup;
    if (counted) {
      counted_minutes.push_back({completed, cpu_us_per_job, buffers, wal, steal, probe});
      all_dequeue_ms.insert(all_dequeue_ms.end(), tally.dequeue_ms.begin(), tally.dequeue_ms.end());
    }
    std::string label = counted ? std::to_string(minute - warmup) : "w" + std::to_string(minute);
    std::printf(
        "  %6s | %11.1f | %10.1f | %8.1f | %12ld | %14.3f | %6.2f | %11.3f | %6ld | %8ld |"
        " %7.1f | %9.1f | %10.0f | %11.1f | %9.0f | %7.1f | %8.1f\n",
        label.c_str(), completed, tally.enqueued / seconds, tally.failed / seconds, tally.empty,
        Percentile(tally.dequeue_ms, 0.5), Percentile(tally.dequeue_ms, 0.99),
        Percentile(tally.poll_ms, 0.99), sizes.queued, sizes.overdue, sizes.jobs_mb,
        sizes.events_mb, cpu_us_per_job, buffers, wal, steal, probe);
    std::fflush(stdout);
    if (hold_snapshot && minute == warmup) hold_snapshot_now();
  }
  stopping = true;
  for (std::thread& thread : threads) thread.join();
  if (holder != nullptr) {
    Exec(holder, "COMMIT");
    PQfinish(holder);
  }
  PQfinish(monitor);

  const Minute& first = counted_minutes.front();
  const Minute& last_minute = counted_minutes.back();
  double mean = 0;
  for (const Minute& m : counted_minutes) mean += m.completed / counted_minutes.size();
  std::vector<double> quiet;  // completed/s of the quiet minutes
  for (const Minute& m : counted_minutes)
    if (m.steal <= quiet_steal) quiet.push_back(m.completed);
  std::string quiet_figures = "quiet_minutes=" + std::to_string(quiet.size());
  if (quiet.size() >= 2) {
    char figures[128];
    std::snprintf(figures, sizeof figures, " quiet_first=%.1f quiet_last=%.1f quiet_ratio=%.2f",
                  quiet.front(), quiet.back(), quiet.back() / quiet.front());
    quiet_figures += figures;
  } else {
    quiet_figures += " quiet_first=n/a quiet_last=n/a quiet_ratio=n/a";
  }
  double cpu_ratio = last_minute.cpu_us / first.cpu_us;
  std::printf(
      "SOAK first=%.1f last=%.1f ratio=%.2f mean=%.1f dequeue_p99=%.3f cpu_first=%.0f"
      " cpu_last=%.0f cpu_ratio=%.2f buffers_first=%.1f buffers_last=%.1f buffers_ratio=%.2f"
      " wal_first=%.0f wal_last=%.0f wal_ratio=%.2f steal_first=%.1f steal_last=%.1f"
      " probe_first=%.1f probe_last=%.1f cpu_probe_ratio=%.2f %s\n",
      first.completed, last_minute.completed, last_minute.completed / first.completed, mean,
      Percentile(all_dequeue_ms, 0.99), first.cpu_us, last_minute.cpu_us, cpu_ratio, first.buffers,
      last_minute.buffers, last_minute.buffers / first.buffers, first.wal_bytes,
      last_minute.wal_bytes, last_minute.wal_bytes / first.wal_bytes, first.steal,
      last_minute.steal, first.probe_ms, last_minute.probe_ms,
      cpu_ratio / (last_minute.probe_ms / first.probe_ms), quiet_figures.c_str());
  return 0;
}
