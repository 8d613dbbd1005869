// Replacing a file so that a crash or a full disk never leaves half of it:
// the one way mnigs writes the config file, the admin token, the node id and
// the DHT's files.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mnigs {

struct AtomicWriteOptions {
  // Permission bits of the new file. Unset: those of the file it replaces
  // (and, when this process may, its owner and group); 0644 for a new file.
  std::optional<unsigned> mode;
  // A symbolic link at the path: true replaces the file it points to (a
  // config file linked from elsewhere), false replaces the link itself.
  bool follow_link = false;
};

// Writes `content` to a new file in the directory of `path` (mkstemp, so an
// existing or planted name is never opened), fsyncs it, renames it over
// `path` and fsyncs the directory, so that after a return the new content
// survives a power cut. Refuses a path that exists and is not a regular
// file. On failure the temporary file is removed and the old file is left
// as it was (unless only the final directory fsync failed: then the new
// content is in place but may not be durable yet). Throws
// std::runtime_error "cannot write PATH: WHAT (ERRNO TEXT)". Blocking.
void write_file_atomic(const std::string& path, std::string_view content,
                       const AtomicWriteOptions& options = {});

}  // namespace mnigs
