// Starting, watching and stopping a render's process group.
#include "worker/render_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace worker {

namespace {

// Most of stdout kept for the result: more than the server accepts anyway.
constexpr size_t kMaxStdoutBytes = 1 << 20;
// Stderr kept: enough for the error tail.
constexpr size_t kMaxStderrBytes = 4 * kErrorTailBytes;

std::string ErrnoText(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// The payload in an anonymous file, rewound: the child reads it at its own
// pace and the worker never blocks on a pipe the child does not drain.
client::UniqueFd PayloadFile(const std::string& data, std::string* error) {
  client::UniqueFd file(memfd_create("queue-payload", MFD_CLOEXEC));
  if (!file.valid()) {
    *error = ErrnoText("memfd_create");
    return file;
  }
  for (size_t written = 0; written < data.size();) {
    const ssize_t n = write(file.get(), data.data() + written, data.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *error = ErrnoText("writing the payload");
      return client::UniqueFd();
    }
    written += static_cast<size_t>(n);
  }
  lseek(file.get(), 0, SEEK_SET);
  return file;
}

// A pipe whose read end is non-blocking; both ends close on exec.
bool OpenPipe(client::UniqueFd* read_end, client::UniqueFd* write_end, std::string* error) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    *error = ErrnoText("pipe2");
    return false;
  }
  read_end->Reset(fds[0]);
  write_end->Reset(fds[1]);
  fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
  return true;
}

// In the child, between fork and exec: only async-signal-safe calls.
[[noreturn]] void ExecChild(int stdin_fd, int stdout_fd, int stderr_fd, const char* command,
                            char* const* environment) {
  setpgid(0, 0);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);  // the worker blocks signals for its signalfd
  signal(SIGPIPE, SIG_DFL);
  if (dup2(stdin_fd, 0) < 0 || dup2(stdout_fd, 1) < 0 || dup2(stderr_fd, 2) < 0) _exit(127);
  char sh[] = "sh";
  char dash_c[] = "-c";
  char* argv[] = {sh, dash_c, const_cast<char*>(command), nullptr};
  execve("/bin/sh", argv, environment);
  _exit(127);
}

}  // namespace

std::unique_ptr<RenderProcess> RenderProcess::Start(const Spec& spec, std::string* error) {
  client::UniqueFd payload = PayloadFile(spec.stdin_data, error);
  if (!payload.valid()) return nullptr;
  std::unique_ptr<RenderProcess> process(new RenderProcess());
  client::UniqueFd stdout_write;
  client::UniqueFd stderr_write;
  if (!OpenPipe(&process->stdout_, &stdout_write, error) ||
      !OpenPipe(&process->stderr_, &stderr_write, error))
    return nullptr;

  // Everything the child needs is built before fork: it may not allocate.
  std::vector<std::string> environment;
  for (char** variable = environ; *variable != nullptr; variable++) {
    const std::string entry = *variable;
    bool replaced = false;
    for (const std::string& added : spec.environment)
      replaced =
          replaced || entry.compare(0, added.find('=') + 1, added, 0, added.find('=') + 1) == 0;
    if (!replaced) environment.push_back(entry);
  }
  environment.insert(environment.end(), spec.environment.begin(), spec.environment.end());
  std::vector<char*> envp;
  for (std::string& entry : environment) envp.push_back(entry.data());
  envp.push_back(nullptr);

  const pid_t pid = fork();
  if (pid < 0) {
    *error = ErrnoText("fork");
    return nullptr;
  }
  if (pid == 0)
    ExecChild(payload.get(), stdout_write.get(), stderr_write.get(), spec.command.c_str(),
              envp.data());
  // Also here: whichever of parent and child runs first, the group exists
  // before anyone signals it (EACCES once the child has exec'd is harmless).
  setpgid(pid, pid);
  process->pid_ = pid;
  return process;
}

RenderProcess::~RenderProcess() {
  if (pid_ > 0 && !end_) {
    SignalGroup(SIGKILL);
    while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
}

void RenderProcess::ReadPipe(client::UniqueFd* pipe, std::string* into, bool keep_tail) {
  char buffer[8192];
  while (pipe->valid()) {
    const ssize_t n = read(pipe->get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) {
      pipe->Reset();
      return;
    }
    into->append(buffer, static_cast<size_t>(n));
    if (keep_tail && into->size() > kMaxStderrBytes) {
      into->erase(0, into->size() - kMaxStderrBytes);
    } else if (!keep_tail && into->size() > kMaxStdoutBytes) {
      // A result this large is refused by the server: keep nothing, the
      // truncated text would not be JSON anyway.
      stdout_overflow_ = true;
      into->clear();
    }
  }
}

void RenderProcess::ReadAvailable() {
  ReadPipe(&stdout_, &stdout_text_, /*keep_tail=*/false);
  ReadPipe(&stderr_, &stderr_text_, /*keep_tail=*/true);
  if (stdout_overflow_) stdout_text_.clear();
}

bool RenderProcess::TryReap() {
  if (end_) return true;
  int status = 0;
  const pid_t reaped = waitpid(pid_, &status, WNOHANG);
  if (reaped != pid_) return false;
  ProcessEnd end;
  end.exited = WIFEXITED(status);
  end.code = end.exited ? WEXITSTATUS(status) : 0;
  end.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  end_ = end;
  // What the child wrote is in the pipes now; what its own children still
  // write later is not waited for (they may hold the pipes open for long).
  ReadAvailable();
  stdout_.Reset();
  stderr_.Reset();
  return true;
}

void RenderProcess::SignalGroup(int signal) const {
  if (pid_ > 0) kill(-pid_, signal);
}

}  // namespace worker
