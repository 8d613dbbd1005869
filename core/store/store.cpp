#include "store/store.hpp"

#include "store/kv_store.hpp"
#include "store/sqlite.hpp"

#include <pthread.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace mnigs {

namespace {

constexpr int kBusyTimeoutMs = 5000;
constexpr int kMaxCheckLines = 3;

void check_migration_list(const std::vector<Migration>& list) {
  // The schema version is "how many migrations have run"; a gap or a repeat
  // would make that ambiguous, so a broken list is a programming error.
  for (std::size_t i = 0; i < list.size(); ++i)
    if (list[i].version != static_cast<int>(i) + 1)
      throw std::logic_error("migration list is broken: entry " + std::to_string(i) +
                             " has version " + std::to_string(list[i].version) + ", expected " +
                             std::to_string(i + 1));
}

// mkdir -p with mode 0700 for what we create; directories that already exist
// keep their mode (the operator may have chosen it).
void make_parent_directories(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::filesystem::path partial;
  for (const auto& part : parent) {
    partial /= part;
    if (::mkdir(partial.c_str(), 0700) == 0 || errno == EEXIST) continue;
    const int err = errno;
    struct stat st {};
    if (::stat(partial.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) continue;
    throw StoreError("database " + path + ": cannot create directory " + partial.string() + " (" +
                         std::strerror(err) +
                         "); create it with write access for mnigsd's user or point "
                         "database.file elsewhere",
                     SQLITE_CANTOPEN);
  }
}

bool exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec);
}

std::string single_text(sqlite3* db, const char* sql) {
  Statement st(db, sql);
  return st.step() ? st.column_text(0) : std::string();
}

}  // namespace

std::unique_ptr<Store> Store::open(const std::string& path, Logger& log) {
  return open(path, log, migrations());
}

std::unique_ptr<Store> Store::open(const std::string& path, Logger& log,
                                   const std::vector<Migration>& list) {
  check_migration_list(list);
  std::unique_ptr<Store> store(new Store(path, log));
  // On failure the unique_ptr joins the worker, which closes what is open.
  store->schema_version_ =
      store->call<int>([&store, &list](sqlite3*) { return store->open_database(list); });
  return store;
}

Store::Store(std::string path, Logger& log)
    : path_(std::move(path)), log_(log), worker_([this] { run(); }) {}

Store::~Store() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (worker_.joinable()) worker_.join();
}

void Store::post(Work fn) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(fn));
  }
  wake_.notify_one();
}

void Store::flush() {
  call<void>([](sqlite3*) {});
}

void Store::check_not_worker(const char* what) const {
  if (on_worker_thread())
    throw std::logic_error(std::string("Store::") + what +
                           " from the store's own worker thread would wait for itself");
}

void Store::run() {
  // Shows up in top -H and in core dumps.
  pthread_setname_np(pthread_self(), "mnigsd-store");
  for (;;) {
    Work job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      // Drain before stopping: work queued before shutdown (a plugin's last
      // put) must reach the disk.
      if (queue_.empty()) break;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      job(db_);
    } catch (const std::exception& e) {
      log_.error("database ", path_, ": queued work failed: ", e.what());
    } catch (...) {
      log_.error("database ", path_, ": queued work failed with an unknown exception");
    }
  }
  close_database();
}

void Store::close_database() {
  if (!db_) return;
  // sqlite3_close() refuses while statements are alive; that is a leak in
  // some closure, worth a log line, and close_v2 still releases the file once
  // they are finalized.
  if (int rc = sqlite3_close(db_); rc != SQLITE_OK) {
    log_.error("database ", path_, ": closing failed (", sqlite3_errmsg(db_),
               "); a prepared statement was not finalized");
    sqlite3_close_v2(db_);
  }
  db_ = nullptr;
}

// Closes without a checkpoint and removes the -wal/-shm files this open
// created, so a file we refuse is exactly as we found it.
void Store::refuse(const std::string& message, bool had_wal, bool had_shm) {
  sqlite3_close_v2(db_);
  db_ = nullptr;
  std::error_code ec;
  if (!had_wal) std::filesystem::remove(path_ + "-wal", ec);
  if (!had_shm) std::filesystem::remove(path_ + "-shm", ec);
  throw StoreError(message, SQLITE_CANTOPEN);
}

int Store::open_database(const std::vector<Migration>& list) {
  const int latest = list.empty() ? 0 : list.back().version;
  make_parent_directories(path_);
  // Reading a WAL-mode database creates -wal and -shm; remember whether they
  // were there so a refused open leaves the directory as it was.
  const bool had_wal = exists(path_ + "-wal");
  const bool had_shm = exists(path_ + "-shm");
  const bool had_file = exists(path_);

  // NOMUTEX: the connection is used by this thread only, so sqlite's own
  // locking would be pure cost.
  int rc =
      sqlite3_open_v2(path_.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string why = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw StoreError("database " + path_ + ": cannot open (" + why +
                         "); check that mnigsd's user may read and write it and its directory",
                     rc & 0xff);
  }
  // A file we create holds plugin secrets and payment records: owner only.
  // The -wal and -shm files sqlite creates later copy this mode.
  if (!had_file) ::chmod(path_.c_str(), 0600);
  // Waiting for another process's lock changes nothing on disk, so it is
  // safe before the checks; it avoids refusing a file that is merely busy.
  sqlite3_busy_timeout(db_, kBusyTimeoutMs);
  // Until the file is known good, closing must not write to it: a WAL left
  // by a newer mnigsd stays a WAL, not merged into a file we refuse.
  sqlite3_db_config(db_, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, static_cast<int*>(nullptr));

  const std::string untouched = " — mnigsd did not modify it";
  int version = 0;
  try {
    version = static_cast<int>(std::stoll(single_text(db_, "PRAGMA user_version")));
  } catch (const StoreError& e) {
    if (e.code() == SQLITE_NOTADB || e.code() == SQLITE_CORRUPT)
      refuse("database " + path_ + ": file is not an SQLite database or is corrupt (" +
                 sqlite3_errstr(e.code()) + "); move it away or restore a backup" + untouched,
             had_wal, had_shm);
    refuse("database " + path_ + ": cannot read the schema version (" + e.what() +
               "); check the file's permissions and that no other program holds it locked" +
               untouched,
           had_wal, had_shm);
  }

  if (version > latest)
    refuse("database " + path_ + ": schema version " + std::to_string(version) +
               " is newer than this mnigsd understands (up to " + std::to_string(latest) +
               "); run a newer mnigsd or point database.file elsewhere — the file was not "
               "modified",
           had_wal, had_shm);

  if (version > 0) {
    // quick_check reads every page but skips index-vs-table comparison: a
    // few milliseconds for a gateway-sized database, and it catches a file
    // truncated or overwritten by a bad flash or a full disk.
    std::string problems;
    try {
      Statement check(db_, "PRAGMA quick_check");
      for (int n = 0; check.step() && n < kMaxCheckLines; ++n) {
        std::string line = check.column_text(0);
        if (n == 0 && line == "ok") break;
        problems += (problems.empty() ? "" : "; ") + line;
      }
    } catch (const StoreError& e) {
      if (e.code() == SQLITE_CORRUPT || e.code() == SQLITE_NOTADB)
        refuse("database " + path_ + ": file is corrupt (" + sqlite3_errstr(e.code()) +
                   "); restore a backup or move the file away to start empty" + untouched,
               had_wal, had_shm);
      problems = e.what();
    }
    if (!problems.empty())
      refuse("database " + path_ + ": integrity check failed (" + problems +
                 "); restore a backup or move the file away to start empty" + untouched,
             had_wal, had_shm);
  }

  sqlite3_db_config(db_, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, static_cast<int*>(nullptr));
  const std::string mode = single_text(db_, "PRAGMA journal_mode=WAL");
  if (mode != "wal")
    log_.warn("database ", path_, ": journal mode is ", mode,
              ", not wal (the filesystem may not support shared memory); writes will block "
              "readers");
  // NORMAL in WAL mode: a power cut may lose the last commits but never
  // corrupts the file, and it spares the flash an fsync per write.
  exec(db_, "PRAGMA synchronous=NORMAL");
  exec(db_, "PRAGMA foreign_keys=ON");

  for (const auto& m : list) {
    if (m.version <= version) continue;
    try {
      Transaction tx(db_);
      exec(db_, m.sql);
      exec(db_, "PRAGMA user_version = " + std::to_string(m.version));
      tx.commit();
    } catch (const std::exception& e) {
      throw StoreError("database " + path_ + ": migration " + std::to_string(m.version) + " (" +
                           m.description + ") failed: " + e.what() +
                           "; the database was left at schema version " + std::to_string(version) +
                           ". Check free disk space and the file's permissions; if both are "
                           "fine, report this error",
                       SQLITE_ERROR);
    }
    version = m.version;
    log_.info("database ", path_, ": applied migration ", m.version, " (", m.description, ")");
  }
  return version;
}

std::unique_ptr<KeyValueStore> Store::namespaced(std::string ns, boost::asio::any_io_executor ex,
                                                 Logger& log) {
  if (ns.empty()) throw std::invalid_argument("Store::namespaced: the namespace must not be empty");
  return std::make_unique<KvStore>(*this, std::move(ns), std::move(ex), log);
}

}  // namespace mnigs
