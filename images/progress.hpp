#pragma once
// Progress of a pull or import, as the API streams it: one entry per layer.
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "common/digest.hpp"

namespace svc::images {

enum class LayerPhase { kWaiting, kDownloading, kVerifying, kUnpacking, kDone, kAlreadyExists };

struct LayerProgress {
  Digest digest;
  LayerPhase phase = LayerPhase::kWaiting;
  std::int64_t current = 0;
  std::int64_t total = 0;
};

struct PullProgress {
  std::string message;  // "resolving docker.io/library/alpine:3", "fetching layers", ...
  std::vector<LayerProgress> layers;
};

// Called from the pull's threads, one call at a time (never concurrently).
using ProgressFn = std::function<void(const PullProgress&)>;
using Cancelled = std::function<bool()>;

// Collects per-layer updates from several threads and forwards them, serialised: at once on a
// phase change or a new message, at most every `interval` for byte counts.
class ProgressTracker {
 public:
  ProgressTracker(ProgressFn fn,
                  std::chrono::milliseconds interval = std::chrono::milliseconds(100))
      : fn_(std::move(fn)), interval_(interval) {}

  void message(std::string text) {
    std::lock_guard lock(mu_);
    state_.message = std::move(text);
    emit_locked();
  }
  void set_layers(const std::vector<std::pair<Digest, std::int64_t>>& layers) {
    std::lock_guard lock(mu_);
    state_.layers.clear();
    for (const auto& [d, size] : layers)
      state_.layers.push_back({d, LayerPhase::kWaiting, 0, size});
    emit_locked();
  }
  void update(std::size_t i, LayerPhase phase, std::int64_t current) {
    std::lock_guard lock(mu_);
    if (i >= state_.layers.size()) return;
    auto& l = state_.layers[i];
    bool changed = l.phase != phase;
    l.phase = phase;
    l.current = current;
    auto now = std::chrono::steady_clock::now();
    if (changed || now - last_ >= interval_) emit_locked();
  }

 private:
  void emit_locked() {
    last_ = std::chrono::steady_clock::now();
    if (fn_) fn_(state_);
  }
  std::mutex mu_;
  ProgressFn fn_;
  std::chrono::milliseconds interval_;
  std::chrono::steady_clock::time_point last_{};
  PullProgress state_;
};

}  // namespace svc::images
