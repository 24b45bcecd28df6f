// The event log: the single source of truth of a session.
//
// Each recording thread owns a ThreadBuffer: a linked list of fixed-size chunks that only that
// thread appends to, and a string arena for the text its events point at. Appending publishes
// the new count with a release store; readers (the journal worker, the fold) read the count with
// an acquire load and see complete events only. Nothing is ever moved or freed while the log
// lives, so readers need no lock. Memory is bounded by a per-session event budget reserved a
// chunk at a time; past it, events are counted as dropped.
#pragma once

#include <sop_telemetry/types.hpp>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sop_telemetry::detail {

enum class EventType : std::uint8_t { begin, end, complete };

struct Event {
    std::uint64_t span_id = 0;
    std::uint64_t parent_id = 0;
    std::int64_t start_ns = 0;
    std::int64_t end_ns = 0;
    std::string_view name;
    std::string_view detail;
    std::string_view category;
    std::string_view error;
    TokenCounts tokens;
    double cost = NAN;  ///< set only for events read back from a file that stored the cost
    EventType type = EventType::complete;
    SpanKind kind = SpanKind::other;
    TaskStatus status = TaskStatus::completed;
};

/// Append-only storage for strings with stable addresses. Names are interned.
class StringArena {
public:
    std::string_view copy(std::string_view text);
    std::string_view intern(std::string_view text);
    std::size_t bytes_reserved() const noexcept { return reserved_.load(std::memory_order_relaxed); }

private:
    // Callers mostly pass the same few names from the same places (a tool's name, a model id),
    // so the interned copy is first looked for by where the text comes from: one slot to check
    // (its content compared, the source may have changed) instead of hashing into the map.
    struct Recent {
        const char* source = nullptr;
        std::string_view interned;
    };
    static constexpr std::size_t kRecent = 32;
    static std::size_t recent_slot(const char* source) noexcept {
        const auto bits = reinterpret_cast<std::uintptr_t>(source);
        return ((bits >> 4) ^ (bits >> 9)) % kRecent;
    }

    static constexpr std::size_t kBlockSize = 16 * 1024;
    std::vector<std::unique_ptr<char[]>> blocks_;
    std::size_t used_ = kBlockSize;  // in the last block
    std::atomic<std::size_t> reserved_{0};
    std::unordered_map<std::string_view, std::string_view> interned_;
    Recent recent_[kRecent];
};

/// Span ids carry the thread slot and the span kind: [slot:20][kind:4][counter:40].
inline SpanKind kind_of_span_id(std::uint64_t id) noexcept {
    return static_cast<SpanKind>((id >> 40) & 0xF);
}

class ThreadBuffer {
public:
    static constexpr std::size_t kChunkEvents = 512;
    struct Chunk {
        Event events[kChunkEvents];
        std::atomic<Chunk*> next{nullptr};
    };

    explicit ThreadBuffer(std::uint32_t slot) noexcept : slot_(slot) {}

    std::uint64_t next_span_id(SpanKind kind) noexcept {
        return (std::uint64_t{slot_} << 44) | (std::uint64_t(kind) << 40) | (++counter_ & 0xFFFFFFFFFFull);
    }
    StringArena& arena() noexcept { return arena_; }
    /// Starts loading the slot the next event is written to (see TelemetryCollector::prefetch).
    void prefetch_next() const noexcept {
        if (tail_ == nullptr || tail_used_ >= tail_capacity_) return;
        const char* slot = reinterpret_cast<const char*>(&tail_->events[tail_used_]);
        for (std::size_t at = 0; at < sizeof(Event); at += 64) __builtin_prefetch(slot + at, 1);
    }

    /// Calls `fn(event)` for events [from, published count); returns the new count.
    std::size_t read_from(std::size_t from, const std::function<void(const Event&)>& fn) const;
    std::size_t published() const noexcept { return count_.load(std::memory_order_acquire); }
    std::uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }

private:
    friend class EventLog;
    std::uint32_t slot_;
    std::uint64_t counter_ = 0;
    Chunk* head_ = nullptr;
    Chunk* tail_ = nullptr;
    std::size_t tail_used_ = 0;
    std::size_t tail_capacity_ = 0;  // events of the budget reserved for the tail chunk
    std::atomic<std::size_t> count_{0};
    std::atomic<std::uint64_t> dropped_{0};
    StringArena arena_;
};

/// Chunks come from 2 MiB slabs populated up front (MADV_POPULATE_WRITE): in a long session every
/// chunk is fresh memory, and a page fault on each of its pages would otherwise nearly double the
/// cost of a record. Slabs are carved from 32 MiB address-space reservations, so populating one
/// never waits on another thread's mmap: MAP_POPULATE per slab made two recording threads
/// populate one at a time (each mmap takes the process's mmap lock for writing, which waits for
/// the other thread's populate under the read lock). Slabs are only released with the registry
/// (chunks are never freed one by one), with their reservations.
class ChunkSlabs {
public:
    static constexpr std::size_t kSlabBytes = std::size_t{2} << 20;
    ChunkSlabs() = default;
    ChunkSlabs(const ChunkSlabs&) = delete;
    ChunkSlabs& operator=(const ChunkSlabs&) = delete;
    ~ChunkSlabs();

    /// A new, value-initialised chunk; null when memory is exhausted.
    ThreadBuffer::Chunk* allocate() noexcept;
    std::size_t bytes_reserved() const noexcept { return reserved_.load(std::memory_order_relaxed); }

    /// Called (by a recording thread, once per slab) when the spare slab was taken: the
    /// background worker then maps the next one, so recording threads rarely map memory.
    void set_spare_taken_callback(std::function<void()> callback) { spare_taken_ = std::move(callback); }
    bool needs_spare() const noexcept { return spare_wanted_.load(std::memory_order_acquire); }
    /// Maps and populates a spare slab if there is none (the worker's job).
    void prepare_spare() noexcept;
    /// fork(): held across it, so the child does not inherit them held by another thread.
    void lock_for_fork() noexcept {
        mutex_.lock();
        region_mutex_.lock();
    }
    void unlock_after_fork() noexcept {
        region_mutex_.unlock();
        mutex_.unlock();
    }

private:
    static constexpr std::size_t kRegionBytes = 16 * kSlabBytes;
    /// A populated slab; null when memory is short (the slab's addresses are kept for later).
    void* map_slab() noexcept;
    /// Addresses for a slab: one given back, else the next of the current reservation.
    char* reserve_slab() noexcept;
    /// A slab no longer needed: its memory is released, its addresses reused.
    void give_back(char* slab) noexcept;

    std::function<void()> spare_taken_;
    std::atomic<bool> spare_wanted_{true};
    std::mutex mutex_;
    std::mutex region_mutex_;  // the reservations; never held while populating
    std::vector<void*> regions_;
    std::vector<char*> returned_;  // slabs given back, unpopulated
    char* region_next_ = nullptr;
    std::size_t region_left_ = 0;
    char* next_ = nullptr;
    std::size_t left_ = 0;
    void* spare_ = nullptr;  // a mapped slab not yet in use
    std::atomic<std::size_t> reserved_{0};
};

/// Who owns which buffer. Shared with the threads' exit hooks, so a thread that ends after
/// the log hands its buffer back to a registry that is still alive. A buffer given back by an
/// exited thread is reused by the next new thread: programs that start a thread per task
/// (smolagents runs each code step in a fresh one) keep a bounded number of buffers.
struct BufferRegistry {
    ChunkSlabs slabs;  // declared first: released after the buffers that point into it
    std::mutex mutex;
    std::vector<std::unique_ptr<ThreadBuffer>> buffers;
    std::unordered_map<std::uint64_t, ThreadBuffer*> by_thread;
    std::vector<ThreadBuffer*> free;

    ThreadBuffer& acquire(std::uint64_t thread_key);
    void release(std::uint64_t thread_key, ThreadBuffer* buffer) noexcept;
};

/// A buffer of the log that belongs to no thread: its one writer at a time is whoever holds the
/// lock its user serialises calls with (see TelemetryCollector::serialized). Handed back to the
/// registry, for reuse, when the lane goes.
class SharedLane {
public:
    explicit SharedLane(std::shared_ptr<BufferRegistry> registry);
    SharedLane(const SharedLane&) = delete;
    SharedLane& operator=(const SharedLane&) = delete;
    ~SharedLane();

    ThreadBuffer& buffer() noexcept { return *buffer_; }

private:
    std::shared_ptr<BufferRegistry> registry_;
    std::uint64_t key_;
    ThreadBuffer* buffer_;
};

class EventLog {
public:
    explicit EventLog(std::uint64_t max_events) noexcept;
    EventLog(const EventLog&) = delete;
    EventLog& operator=(const EventLog&) = delete;

    /// The calling thread's buffer (registered on first use).
    ThreadBuffer& local();
    /// A buffer of its own for a caller that serialises its writes itself.
    std::shared_ptr<SharedLane> open_lane();

    /// Stores `event` (its strings must already live in `buffer`'s arena); false when dropped.
    bool append(ThreadBuffer& buffer, const Event& event) noexcept;
    /// Whether `buffer` has room for one more event within the budget. When it has not, the
    /// event is counted as dropped here, before its strings are copied into the arena (past
    /// the budget they would grow it without bound). append() may still drop an event whose
    /// room another thread took meanwhile.
    bool admit(ThreadBuffer& buffer, EventType type) noexcept;

    /// A snapshot of the registered buffers (they live as long as the log).
    std::vector<ThreadBuffer*> buffers() const;
    /// Every published event, buffer by buffer.
    std::vector<Event> snapshot() const;
    std::uint64_t dropped() const noexcept;
    std::uint64_t recorded() const noexcept;
    std::size_t memory_bytes() const noexcept;
    std::uint64_t generation() const noexcept { return generation_; }
    ChunkSlabs& slabs() noexcept { return registry_->slabs; }
    /// fork(): the registry's and the slabs' locks held across it (see SessionCore).
    void lock_for_fork() noexcept {
        registry_->mutex.lock();
        registry_->slabs.lock_for_fork();
    }
    void unlock_after_fork() noexcept {
        registry_->slabs.unlock_after_fork();
        registry_->mutex.unlock();
    }

private:
    /// Takes up to `wanted` events of the budget; returns how many it got.
    std::uint64_t reserve(std::uint64_t wanted, std::uint64_t limit) noexcept;
    /// How far the budget stretches for `event` (ends go past it: see limit_for's body).
    std::uint64_t limit_for(EventType type) const noexcept;

    const std::uint64_t generation_;
    const std::uint64_t max_events_;
    std::atomic<std::uint64_t> events_reserved_{0};
    const std::shared_ptr<BufferRegistry> registry_ = std::make_shared<BufferRegistry>();
};

/// Wall clock in nanoseconds since the Unix epoch.
std::int64_t now_ns() noexcept;

}  // namespace sop_telemetry::detail
