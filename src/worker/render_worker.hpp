// The render worker's main loop: one thread, one poll() over the signalfd, the
// database socket and the renders' pipes, with timers for heartbeats, polls,
// deadlines, kill escalation, shutdown and reconnects.
//
// Words: a "job" is a row of queue.jobs; an "attempt" is one claim of it (its
// number comes back from dequeue and goes back with complete/fail); a "render"
// is the child process group that works on one attempt; a "report" is the
// complete()/fail() call that ends the attempt, kept until the server answers.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "client/connection.hpp"
#include "client/log.hpp"
#include "worker/options.hpp"
#include "worker/outcome.hpp"
#include "worker/protocol.hpp"
#include "worker/render_process.hpp"
#include "worker/signals.hpp"
#include "worker/simulate.hpp"

namespace worker {

// How long one connect (all hosts of the connection string) may take.
constexpr std::chrono::seconds kConnectTimeout{10};

class RenderWorker {
 public:
  RenderWorker(Options options, std::optional<SimulateProfile> profile);
  // Run until shut down; the process exit code.
  int Run();

 private:
  using Clock = std::chrono::steady_clock;
  struct Job {
    ClaimedJob claim;
    std::unique_ptr<RenderProcess> process;  // null once reaped
    Clock::time_point started;
    Clock::time_point deadline;
    StopReason stop = StopReason::kNone;
    std::optional<Clock::time_point> kill_at;  // SIGKILL if still running then
    std::optional<Report> report;              // set once the render ended
  };

  void StartConnect(Clock::time_point now);
  void AdvanceConnect(Clock::time_point now);
  void ScheduleReconnect(const char* event, std::string why, Clock::time_point now);
  void LoseConnection(std::string why, Clock::time_point now);
  void DeliverReports(Clock::time_point now);
  void BeatIfDue(Clock::time_point now);
  void ClaimIfDue(Clock::time_point now);
  void StartRender(ClaimedJob claim, Clock::time_point now);
  void StopRender(Job& job, StopReason reason, Clock::time_point now);
  void EnforceTimers(Clock::time_point now);
  void ReapRenders(Clock::time_point now);
  void OnSignal(int signal, Clock::time_point now);
  void WaitForEvents(Clock::time_point now);
  Clock::time_point NextTimer(Clock::time_point now) const;
  int FreeSlots() const { return options_.capacity - static_cast<int>(jobs_.size()); }
  double Uniform() { return std::uniform_real_distribution<double>(0.0, 1.0)(random_); }

  Options options_;
  std::optional<SimulateProfile> profile_;
  client::Logger log_;
  SignalEvents signals_;
  client::Connection db_;
  std::mt19937_64 random_;
  // Keyed by (job id, attempt): a job put back in line by hand may be claimed
  // again while the render of its earlier attempt still runs.
  std::map<std::pair<long long, int>, Job> jobs_;

  // A connect in progress: libpq's next step, whether its socket is ready for
  // it, and when to give up on it.
  bool connecting_ = false;
  client::Connection::Step connect_step_ = client::Connection::Step::kWrite;
  bool connect_ready_ = false;
  Clock::time_point connect_deadline_;

  bool registered_once_ = false;
  bool fatal_ = false;
  int reconnect_failures_ = 0;
  Clock::time_point reconnect_at_;
  Clock::time_point next_beat_;
  Clock::time_point next_poll_;
  bool wake_ = true;  // a NOTIFY came, or a slot freed: claim without waiting for the poll
  int stop_signals_ = 0;
  bool drain_sent_ = false;
  std::optional<Clock::time_point> shutdown_at_;
};

}  // namespace worker
