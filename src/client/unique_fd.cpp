// A file descriptor owned by one object.
#include "client/unique_fd.hpp"

#include <unistd.h>

namespace client {

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) Reset(std::exchange(other.fd_, -1));
  return *this;
}

// Close the current descriptor and take `fd`.
void UniqueFd::Reset(int fd) {
  if (fd_ >= 0) close(fd_);
  fd_ = fd;
}

}  // namespace client
