// Signals read from a signalfd.
#include "worker/signals.hpp"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>

namespace worker {

SignalEvents::SignalEvents() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGCHLD);
  if (sigprocmask(SIG_BLOCK, &signals, nullptr) != 0) return;
  fd_.Reset(signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC));
}

std::vector<int> SignalEvents::Take() {
  std::vector<int> signals;
  signalfd_siginfo info;
  while (true) {
    const ssize_t n = read(fd_.get(), &info, sizeof info);
    if (n < 0 && errno == EINTR) continue;
    if (n != static_cast<ssize_t>(sizeof info)) break;
    signals.push_back(static_cast<int>(info.ssi_signo));
  }
  return signals;
}

}  // namespace worker
