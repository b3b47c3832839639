// One render: a child process running `/bin/sh -c CMD` in its own process
// group, with the payload on stdin and its stdout and stderr captured.
//
// The object owns the child: stopping signals the whole group (so a renderer's
// own children die with it), and destroying an object whose child still runs
// kills the group and reaps it, so no render outlives its owner by accident.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/unique_fd.hpp"
#include "worker/outcome.hpp"

namespace worker {

class RenderProcess {
 public:
  struct Spec {
    std::string command;
    std::vector<std::string> environment;  // KEY=VALUE added to the worker's own
    std::string stdin_data;
  };

  // Start the child; nullptr with `error` set when it could not be started.
  static std::unique_ptr<RenderProcess> Start(const Spec& spec, std::string* error);
  ~RenderProcess();
  RenderProcess(const RenderProcess&) = delete;
  RenderProcess& operator=(const RenderProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Pipes still open (for poll); -1 once closed.
  int stdout_fd() const { return stdout_.get(); }
  int stderr_fd() const { return stderr_.get(); }
  // Read what the pipes hold now, without blocking; closes a pipe at its end.
  void ReadAvailable();
  // Reap the child if it has ended (never blocks); true once it has.
  bool TryReap();
  const std::optional<ProcessEnd>& end() const { return end_; }
  // Send `signal` to the child's process group (until it is reaped, and after,
  // to what is left of the group).
  void SignalGroup(int signal) const;

  const std::string& stdout_text() const { return stdout_text_; }
  const std::string& stderr_text() const { return stderr_text_; }

 private:
  RenderProcess() = default;
  void ReadPipe(client::UniqueFd* pipe, std::string* into, bool keep_tail);

  pid_t pid_ = -1;
  client::UniqueFd stdout_;
  client::UniqueFd stderr_;
  std::string stdout_text_;
  std::string stderr_text_;
  bool stdout_overflow_ = false;
  std::optional<ProcessEnd> end_;
};

}  // namespace worker
