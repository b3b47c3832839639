// SIGTERM, SIGINT and SIGCHLD as readable events on a signalfd: the signals are
// blocked and read in the main loop, so no work ever runs in a signal handler.
#pragma once

#include <vector>

#include "client/unique_fd.hpp"

namespace worker {

class SignalEvents {
 public:
  // Block the signals and open the descriptor; valid() is false on failure.
  SignalEvents();
  bool valid() const { return fd_.valid(); }
  int fd() const { return fd_.get(); }
  // The signals that arrived since the last call (without blocking).
  std::vector<int> Take();

 private:
  client::UniqueFd fd_;
};

}  // namespace worker
