// SerialWorker: one thread that runs jobs in the order they were submitted.
//
// The writer hands each period's H.264 encode to it, so that x264 encodes period k
// while the engine's thread decodes, mixes and composes period k + 1: on two cores
// the two halves of the work overlap instead of taking turns.
//
// A job's result (or the exception it threw) comes back through its future. A job runs
// under the log sink of the thread that submitted it (callrec/core/log.h), so libav's
// lines from the encoder reach the session or render they belong to. Destroying
// the worker drops the jobs not yet started (their futures report broken_promise) and
// waits for the running one.
//
// Threading: submit() from one owner thread; jobs run on the worker thread.
#pragma once
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <utility>

#include "callrec/core/denormals.h"
#include "callrec/core/log.h"

namespace callrec::muxer {

template <typename Result>
class SerialWorker {
 public:
  using Job = std::packaged_task<Result()>;

  SerialWorker() : thread_([this] { run(); }) {}

  ~SerialWorker() {
    {
      const std::lock_guard lock(mutex_);
      stopping_ = true;
      jobs_.clear();
    }
    wake_.notify_one();
    thread_.join();
  }

  SerialWorker(const SerialWorker&) = delete;
  SerialWorker& operator=(const SerialWorker&) = delete;

  template <typename F>
  std::future<Result> submit(F&& f) {
    Job job(std::forward<F>(f));
    std::future<Result> result = job.get_future();
    {
      const std::lock_guard lock(mutex_);
      jobs_.push_back({std::move(job), current_log_sink()});
    }
    wake_.notify_one();
    return result;
  }

 private:
  void run() {
    const ScopedFlushDenormals flush_denormals;  // the encoders' float arithmetic
    while (true) {
      Queued next;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (stopping_) return;
        next = std::move(jobs_.front());
        jobs_.pop_front();
      }
      const ScopedLogSink log_scope(next.log_sink);
      next.job();  // a throwing job stores its exception in the future
    }
  }

  struct Queued {
    Job job;
    const LogSink* log_sink = nullptr;  // the submitter's; outlives the job (it is the session's)
  };

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Queued> jobs_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts after the members it uses exist
};

}  // namespace callrec::muxer
