// The render worker's main loop.
#include "worker/render_worker.hpp"

#include <poll.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "client/backoff.hpp"

namespace worker {

namespace {

using Clock = std::chrono::steady_clock;

// SQLSTATE classes that mean the server will never accept this worker as
// configured (a privilege, an unknown resource, a bad value): retrying is useless.
bool IsConfigurationError(const std::string& sqlstate) {
  return sqlstate.rfind("42", 0) == 0 || sqlstate.rfind("22", 0) == 0;
}

long long MillisBetween(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count();
}

std::chrono::milliseconds SecondsToMillis(double seconds) {
  return std::chrono::milliseconds(static_cast<long long>(std::max(seconds, 0.0) * 1000));
}

const char* StopReasonName(StopReason reason) {
  switch (reason) {
    case StopReason::kCancelled:
      return "cancelled";
    case StopReason::kDeadline:
      return "deadline";
    case StopReason::kShutdown:
      return "shutdown";
    case StopReason::kNone:
      break;
  }
  return "none";
}

}  // namespace

RenderWorker::RenderWorker(Options options, std::optional<SimulateProfile> profile)
    : options_(std::move(options)),
      profile_(std::move(profile)),
      log_(options_.log_format, {{"worker", options_.worker_id}}),
      random_(std::random_device{}()) {}

int RenderWorker::Run() {
  if (!signals_.valid()) {
    log_.Event("fatal", {{"error", std::string("signalfd: ") + std::strerror(errno)}});
    return 1;
  }
  log_.Event("starting",
             {{"capacity", options_.capacity}, {"mode", options_.simulate ? "simulate" : "exec"}});
  while (true) {
    const Clock::time_point now = Clock::now();
    if (!db_.ok() && !connecting_ && now >= reconnect_at_) StartConnect(now);
    if (connecting_) AdvanceConnect(now);
    if (fatal_) return 1;
    ReapRenders(now);
    EnforceTimers(now);
    if (db_.ok()) DeliverReports(now);
    if (db_.ok()) BeatIfDue(now);
    if (db_.ok() && stop_signals_ > 0 && !drain_sent_) {
      client::QueryResult drained = DrainWorker(db_, options_.worker_id);
      if (drained.connection_lost()) LoseConnection(drained.message(), now);
      drain_sent_ = true;  // a refused drain is not retried: nothing is claimed anyway
    }
    if (db_.ok() && stop_signals_ == 0) ClaimIfDue(now);
    if (stop_signals_ > 0 && jobs_.empty()) break;
    if (stop_signals_ > 2) {
      log_.Event("abandoned",
                 {{"jobs", jobs_.size()}, {"note", "the server times their attempts out"}});
      break;
    }
    WaitForEvents(now);
  }
  log_.Event("stopped");
  return 0;
}

// Start connecting without blocking: renders keep being watched meanwhile.
void RenderWorker::StartConnect(Clock::time_point now) {
  db_ = client::Connection::Start(options_.conninfo, "queue-worker " + options_.worker_id);
  if (db_.pending_socket() < 0) return ScheduleReconnect("connect_failed", db_.error(), now);
  connecting_ = true;
  connect_step_ = client::Connection::Step::kWrite;  // libpq's first step waits to write
  connect_ready_ = false;
  connect_deadline_ = now + kConnectTimeout;
}

// Take the next step of a connect once its socket is ready; when connected,
// register and LISTEN.
void RenderWorker::AdvanceConnect(Clock::time_point now) {
  if (now >= connect_deadline_) {
    connecting_ = false;
    return ScheduleReconnect("connect_failed", "no server answered within 10 s", now);
  }
  if (!connect_ready_) return;
  connect_ready_ = false;
  connect_step_ = db_.Continue();
  if (connect_step_ == client::Connection::Step::kFailed) {
    connecting_ = false;
    return ScheduleReconnect("connect_failed", db_.error(), now);
  }
  if (connect_step_ != client::Connection::Step::kReady) return;
  connecting_ = false;
  client::QueryResult registered =
      RegisterWorker(db_, options_.worker_id, options_.resources, options_.capacity);
  if (!registered.ok() && !registered.connection_lost() &&
      IsConfigurationError(registered.sqlstate()) && !registered_once_ && jobs_.empty()) {
    log_.Event("fatal", {{"sqlstate", registered.sqlstate()}, {"error", registered.message()}});
    fatal_ = true;
    return;
  }
  client::QueryResult listening = registered.ok() ? Listen(db_) : std::move(registered);
  if (!listening.ok()) return ScheduleReconnect("connect_failed", listening.message(), now);
  log_.Event(registered_once_ ? "reconnected" : "connected",
             {{"server", db_.Server()}, {"running", jobs_.size()}});
  registered_once_ = true;
  reconnect_failures_ = 0;
  wake_ = true;
  drain_sent_ = false;  // registering made the worker active again
  next_beat_ = now + options_.heartbeat_interval;
}

// Drop the connection and try again after a growing delay with jitter; the
// first retry after a connection that worked comes quickly. Renders keep running.
// `why` is a copy: it often comes from the connection dropped here.
void RenderWorker::ScheduleReconnect(const char* event, std::string why, Clock::time_point now) {
  db_ = client::Connection();
  reconnect_failures_++;
  const auto delay = client::BackoffDelay({std::chrono::milliseconds(250), options_.reconnect_cap},
                                          reconnect_failures_, Uniform());
  reconnect_at_ = now + delay;
  log_.Event(event, {{"error", why},
                     {"running", jobs_.size()},
                     {"retry_in_ms", static_cast<long long>(delay.count())}});
}

// The connection broke.
void RenderWorker::LoseConnection(std::string why, Clock::time_point now) {
  reconnect_failures_ = 0;
  ScheduleReconnect("connection_lost", std::move(why), now);
}

// Send every finished render's report; keep those the server did not answer.
void RenderWorker::DeliverReports(Clock::time_point now) {
  for (auto it = jobs_.begin(); it != jobs_.end() && db_.ok();) {
    Job& job = it->second;
    if (!job.report) {
      ++it;
      continue;
    }
    Delivery delivery;
    client::QueryResult result =
        Deliver(db_, options_.worker_id, job.claim, *job.report, &delivery);
    const client::LogFields ids = {{"job", job.claim.id}, {"attempt", job.claim.attempt}};
    if (result.connection_lost()) {
      LoseConnection(result.message(), now);
      return;
    }
    if (!result.ok() && job.report->complete) {
      // The server would not take the result (too large, not valid jsonb):
      // the attempt still has to end, as a failure that says why.
      log_.Event("result_refused", {{"job", job.claim.id}, {"error", result.message()}});
      job.report = Report{false, std::nullopt,
                          "result refused by the server: " + SanitizeUtf8(result.message()), true};
      continue;
    }
    client::LogFields fields = ids;
    if (!result.ok()) {
      fields.push_back({"error", result.message()});
      log_.Event("report_failed", fields);
    } else if (delivery.taken) {
      fields.push_back({"status", delivery.status});
      if (!job.report->complete) fields.push_back({"error", job.report->error});
      log_.Event(job.report->complete ? "completed" : "failed", fields);
    } else {
      fields.push_back({"reason",
                        "the attempt is no longer this worker's (timed out, "
                        "cancelled or reclaimed)"});
      log_.Event("report_refused", fields);
    }
    it = jobs_.erase(it);
    wake_ = true;  // a slot is free
  }
}

// Beat on the interval; stop the renders whose cancellation was requested.
void RenderWorker::BeatIfDue(Clock::time_point now) {
  if (now < next_beat_) return;
  std::vector<long long> cancelled;
  client::QueryResult result = Heartbeat(db_, options_.worker_id, &cancelled);
  if (result.connection_lost()) return LoseConnection(result.message(), now);
  next_beat_ = now + options_.heartbeat_interval;
  if (!result.ok()) {
    log_.Event("heartbeat_failed", {{"sqlstate", result.sqlstate()}, {"error", result.message()}});
    if (result.sqlstate() == "P0002") db_ = client::Connection();  // unregistered: register again
    return;
  }
  for (long long id : cancelled) {
    for (auto& [key, job] : jobs_) {
      if (key.first != id || job.stop != StopReason::kNone || job.report) continue;
      log_.Event("cancel_requested", {{"job", id}, {"attempt", job.claim.attempt}});
      StopRender(job, StopReason::kCancelled, now);
    }
  }
}

// Claim up to the free slots when woken or when the poll is due.
void RenderWorker::ClaimIfDue(Clock::time_point now) {
  const int free_slots = FreeSlots();
  if (free_slots <= 0 || (!wake_ && now < next_poll_)) return;
  std::vector<ClaimedJob> claimed;
  client::QueryResult result = Claim(db_, options_.worker_id, free_slots, &claimed);
  if (result.connection_lost()) return LoseConnection(result.message(), now);
  next_poll_ = now + options_.poll_interval;
  if (!result.ok()) {
    wake_ = false;
    log_.Event("claim_failed", {{"sqlstate", result.sqlstate()}, {"error", result.message()}});
    return;
  }
  // A full batch may mean more is waiting: claim again at once.
  wake_ = static_cast<int>(claimed.size()) == free_slots;
  for (ClaimedJob& job : claimed) StartRender(std::move(job), now);
}

void RenderWorker::StartRender(ClaimedJob claim, Clock::time_point now) {
  RenderProcess::Spec spec;
  if (profile_) {
    spec.command = SimulateCommand(
        DrawRender(*profile_, claim.job_type, claim.resource, Uniform(), Uniform()));
  } else {
    spec.command = options_.exec_command;
  }
  spec.stdin_data = claim.payload;
  spec.environment = {"QUEUE_JOB_ID=" + std::to_string(claim.id),
                      "QUEUE_JOB_TYPE=" + claim.job_type,
                      "QUEUE_ATTEMPT=" + std::to_string(claim.attempt),
                      "QUEUE_DEADLINE=" + claim.deadline,
                      "QUEUE_RESOURCE=" + claim.resource,
                      "QUEUE_WORKER_ID=" + options_.worker_id};
  Job job;
  job.started = now;
  job.deadline = now + SecondsToMillis(claim.seconds_left);
  std::string error;
  job.process = RenderProcess::Start(spec, &error);
  client::LogFields fields = {
      {"job", claim.id}, {"attempt", claim.attempt}, {"type", claim.job_type}};
  if (!claim.resource.empty()) fields.push_back({"resource", claim.resource});
  if (job.process == nullptr) {
    fields.push_back({"error", error});
    log_.Event("render_not_started", fields);
    job.report = Report{false, std::nullopt, "render could not be started: " + error, true};
  } else {
    fields.push_back({"pid", job.process->pid()});
    fields.push_back({"deadline_in_s", static_cast<long long>(claim.seconds_left)});
    log_.Event("claimed", fields);
  }
  const std::pair<long long, int> key(claim.id, claim.attempt);
  job.claim = std::move(claim);
  jobs_.emplace(key, std::move(job));
}

// Ask the render's process group to stop; SIGKILL follows after the grace.
void RenderWorker::StopRender(Job& job, StopReason reason, Clock::time_point now) {
  if (job.stop != StopReason::kNone || job.process == nullptr) return;
  job.stop = reason;
  job.kill_at = now + options_.kill_grace;
  job.process->SignalGroup(SIGTERM);
  log_.Event("stopping", {{"job", job.claim.id}, {"reason", StopReasonName(reason)}});
}

void RenderWorker::EnforceTimers(Clock::time_point now) {
  const bool shutting_down = shutdown_at_ && now >= *shutdown_at_;
  for (auto& [key, job] : jobs_) {
    if (job.process == nullptr) continue;
    if (shutting_down) StopRender(job, StopReason::kShutdown, now);
    if (job.stop == StopReason::kNone && now >= job.deadline) {
      StopRender(job, StopReason::kDeadline, now);
    }
    if (job.kill_at && now >= *job.kill_at) {
      job.process->SignalGroup(SIGKILL);
      job.kill_at.reset();
      log_.Event("killed", {{"job", job.claim.id}, {"reason", StopReasonName(job.stop)}});
    }
  }
}

// Collect the renders that ended and turn each into its report.
void RenderWorker::ReapRenders(Clock::time_point now) {
  for (auto& [key, job] : jobs_) {
    if (job.process == nullptr || !job.process->TryReap()) continue;
    const ProcessEnd end = *job.process->end();
    // What a stopped render left behind in its group goes with it.
    if (job.stop != StopReason::kNone) job.process->SignalGroup(SIGKILL);
    job.report = MapOutcome(end, job.stop, options_.permanent_exit_codes,
                            job.process->stdout_text(), job.process->stderr_text());
    log_.Event("render_ended", {{"job", job.claim.id},
                                {"attempt", job.claim.attempt},
                                {"exit", end.exited ? end.code : -1},
                                {"signal", end.signal},
                                {"seconds", MillisBetween(job.started, now) / 1000.0}});
    job.process.reset();
  }
}

void RenderWorker::OnSignal(int signal, Clock::time_point now) {
  if (signal == SIGCHLD) return ReapRenders(now);
  stop_signals_++;
  if (stop_signals_ == 1) {
    shutdown_at_ = now + options_.shutdown_grace;
    log_.Event("shutting_down", {{"signal", strsignal(signal)},
                                 {"running", jobs_.size()},
                                 {"grace_s", options_.shutdown_grace.count() / 1000.0}});
  } else if (stop_signals_ == 2) {
    shutdown_at_ = now;
    log_.Event("stopping_renders_now", {{"running", jobs_.size()}});
  }
}

Clock::time_point RenderWorker::NextTimer(Clock::time_point now) const {
  Clock::time_point next = now + std::chrono::seconds(60);
  if (connecting_) next = std::min(next, connect_deadline_);
  if (!db_.ok() && !connecting_) next = std::min(next, reconnect_at_);
  if (db_.ok()) next = std::min(next, next_beat_);
  if (db_.ok() && stop_signals_ == 0 && FreeSlots() > 0)
    next = std::min(next, wake_ ? now : next_poll_);
  if (shutdown_at_) next = std::min(next, *shutdown_at_);
  for (const auto& [key, job] : jobs_) {
    if (job.process == nullptr) continue;
    if (job.stop == StopReason::kNone) next = std::min(next, job.deadline);
    if (job.kill_at) next = std::min(next, *job.kill_at);
  }
  return next;
}

// Sleep in poll() until a signal, a notification, render output or a timer.
void RenderWorker::WaitForEvents(Clock::time_point now) {
  std::vector<pollfd> fds = {{signals_.fd(), POLLIN, 0}};
  // The database socket: a connect in progress waits for what libpq asked,
  // an open connection for notifications.
  const int db_socket = connecting_ ? db_.pending_socket() : db_.socket();
  const short db_events =
      connecting_ && connect_step_ == client::Connection::Step::kWrite ? POLLOUT : POLLIN;
  if (db_socket >= 0) fds.push_back({db_socket, db_events, 0});
  for (const auto& [key, job] : jobs_) {
    if (job.process == nullptr) continue;
    if (job.process->stdout_fd() >= 0) fds.push_back({job.process->stdout_fd(), POLLIN, 0});
    if (job.process->stderr_fd() >= 0) fds.push_back({job.process->stderr_fd(), POLLIN, 0});
  }
  const long long timeout = std::max<long long>(0, MillisBetween(now, NextTimer(now)) + 1);
  if (poll(fds.data(), fds.size(), static_cast<int>(std::min<long long>(timeout, 60000))) <= 0)
    return;
  const Clock::time_point woke = Clock::now();
  if (fds[0].revents != 0) {
    for (int signal : signals_.Take()) OnSignal(signal, woke);
  }
  if (db_socket >= 0 && fds[1].revents != 0 && connecting_) {
    connect_ready_ = true;
  } else if (db_socket >= 0 && fds[1].revents != 0 && db_.ok()) {
    if (!db_.ConsumeInput()) {
      LoseConnection(db_.error(), woke);
    } else if (!db_.TakeNotifications().empty()) {
      wake_ = true;
    }
  }
  for (auto& [key, job] : jobs_) {
    if (job.process != nullptr) job.process->ReadAvailable();
  }
}

}  // namespace worker
