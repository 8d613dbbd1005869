#include "util/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <utility>
#include <vector>

namespace mnigs {
namespace {

std::runtime_error write_error(const std::string& path, const std::string& what, int err) {
  return std::runtime_error("cannot write " + path + ": " + what + " (" + std::strerror(err) + ")");
}

// The temporary file, closed and removed unless it was renamed into place.
struct TempFile {
  std::string path;
  int fd = -1;
  bool renamed = false;
  ~TempFile() {
    if (fd >= 0) ::close(fd);
    if (!renamed && !path.empty()) ::unlink(path.c_str());
  }
};

}  // namespace

void write_file_atomic(const std::string& path, std::string_view content,
                       const AtomicWriteOptions& options) {
  std::string target = path;
  struct stat st {};
  if (options.follow_link && ::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    // Renaming over the link would replace the link, not the file it points to.
    char* real = ::realpath(path.c_str(), nullptr);
    if (!real) throw write_error(path, "cannot resolve the symbolic link", errno);
    target = real;
    std::free(real);
  }
  bool exists = false;
  if (::lstat(target.c_str(), &st) == 0) {
    // A link left in place (follow_link false) is replaced like a file.
    if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
      throw write_error(path, "not a regular file", EINVAL);
    exists = S_ISREG(st.st_mode);
  } else if (errno != ENOENT) {
    throw write_error(path, "cannot inspect the file", errno);
  }
  mode_t mode = options.mode ? static_cast<mode_t>(*options.mode)
                : exists     ? st.st_mode & 07777
                             : 0644;

  const auto slash = target.rfind('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : target.substr(0, slash);
  const std::string base = slash == std::string::npos ? target : target.substr(slash + 1);

  TempFile tmp;
  const std::string name = (dir == "/" ? "" : dir) + "/." + base + ".XXXXXX";
  std::vector<char> buf(name.begin(), name.end());
  buf.push_back('\0');
  // mkostemp creates the file with O_EXCL and mode 0600: nobody else can
  // open it before the fchmod below.
  tmp.fd = ::mkostemp(buf.data(), O_CLOEXEC);
  if (tmp.fd < 0) throw write_error(path, "cannot create a temporary file in " + dir, errno);
  tmp.path = buf.data();

  // Owner first: chown clears set-id bits that the chmod then restores. Only
  // root may give a file away; anybody else keeps the new file as their own.
  if (!options.mode && exists && (st.st_uid != ::geteuid() || st.st_gid != ::getegid())) {
    int rc = ::fchown(tmp.fd, st.st_uid, st.st_gid);
    (void)rc;
  }
  if (::fchmod(tmp.fd, mode) != 0) throw write_error(path, "cannot set the file mode", errno);

  const char* p = content.data();
  std::size_t left = content.size();
  while (left > 0) {
    ssize_t n = ::write(tmp.fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw write_error(path, "cannot write " + tmp.path, errno);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::fsync(tmp.fd) != 0) throw write_error(path, "cannot flush " + tmp.path, errno);
  const int fd = std::exchange(tmp.fd, -1);
  if (::close(fd) != 0) throw write_error(path, "cannot close " + tmp.path, errno);
  if (::rename(tmp.path.c_str(), target.c_str()) != 0)
    throw write_error(path, "cannot rename " + tmp.path + " over it", errno);
  tmp.renamed = true;

  // Without this the rename itself may not survive a power cut.
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) throw write_error(path, "replaced, but cannot open " + dir + " to flush it", errno);
  const int rc = ::fsync(dfd);
  const int err = errno;
  ::close(dfd);
  if (rc != 0) throw write_error(path, "replaced, but cannot flush " + dir, err);
}

}  // namespace mnigs
