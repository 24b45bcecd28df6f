#include "detail/event_log.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <sys/mman.h>
#include <thread>
#include <type_traits>

namespace sop_telemetry::detail {

std::int64_t now_ns() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return std::int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::string_view StringArena::copy(std::string_view text) {
    if (text.empty()) return {};
    if (text.size() > kBlockSize / 4) {
        // Large strings get a block of their own so the current block keeps its free space.
        auto block = std::make_unique<char[]>(text.size());
        std::memcpy(block.get(), text.data(), text.size());
        std::string_view stored(block.get(), text.size());
        reserved_ += text.size();
        blocks_.insert(blocks_.end() - (blocks_.empty() ? 0 : 1), std::move(block));
        return stored;
    }
    if (used_ + text.size() > kBlockSize) {
        blocks_.push_back(std::make_unique<char[]>(kBlockSize));
        reserved_ += kBlockSize;
        used_ = 0;
    }
    char* out = blocks_.back().get() + used_;
    std::memcpy(out, text.data(), text.size());
    used_ += text.size();
    return {out, text.size()};
}

std::string_view StringArena::intern(std::string_view text) {
    if (text.empty()) return {};
    Recent& recent = recent_[recent_slot(text.data())];
    if (recent.source == text.data() && recent.interned == text) return recent.interned;
    std::string_view stored;
    if (auto it = interned_.find(text); it != interned_.end()) {
        stored = it->second;
    } else {
        stored = copy(text);
        interned_.emplace(stored, stored);
    }
    recent = {text.data(), stored};
    return stored;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14
#endif

namespace {

bool is_hardware_poison(int error) {
#ifdef EHWPOISON
    return error == EHWPOISON;
#else
    (void)error;
    return false;
#endif
}

}  // namespace

ChunkSlabs::~ChunkSlabs() {
    for (void* region : regions_) ::munmap(region, kRegionBytes);
}

char* ChunkSlabs::reserve_slab() noexcept {
    for (;;) {
        {
            std::lock_guard lock(region_mutex_);
            if (!returned_.empty()) {
                char* slab = returned_.back();
                returned_.pop_back();
                return slab;
            }
            if (region_left_ >= kSlabBytes) {
                char* slab = region_next_;
                region_next_ += kSlabBytes;
                region_left_ -= kSlabBytes;
                return slab;
            }
        }
        // A new reservation, mapped with no lock held: mmap may wait for another thread's
        // populate, and a fork meanwhile must not leave the lock held in the child.
        void* region = ::mmap(nullptr, kRegionBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (region == MAP_FAILED) return nullptr;
        bool installed = false, out_of_memory = false;
        {
            std::lock_guard lock(region_mutex_);
            if (region_left_ < kSlabBytes) {  // else another thread installed one meanwhile
                try {
                    regions_.push_back(region);
                    region_next_ = static_cast<char*>(region);
                    region_left_ = kRegionBytes;
                    installed = true;
                } catch (...) {
                    out_of_memory = true;
                }
            }
        }
        if (!installed) ::munmap(region, kRegionBytes);
        if (out_of_memory) return nullptr;
    }
}

void ChunkSlabs::give_back(char* slab) noexcept {
    ::madvise(slab, kSlabBytes, MADV_DONTNEED);  // its memory goes back; its addresses are reused
    std::lock_guard lock(region_mutex_);
    try {
        returned_.push_back(slab);
    } catch (...) {  // out of memory: the address space stays unused, nothing worse
    }
}

void* ChunkSlabs::map_slab() noexcept {
    char* slab = reserve_slab();
    if (slab == nullptr) return nullptr;
    // The kernel fills the whole slab in one call (under the mmap lock for reading only), far
    // cheaper than a page fault on each of its pages.
    if (::madvise(slab, kSlabBytes, MADV_POPULATE_WRITE) == 0) return slab;
    const int error = errno;
    if (error == ENOMEM || error == EFAULT || is_hardware_poison(error)) {  // no memory for it now
        give_back(slab);
        return nullptr;
    }
    // Before Linux 5.14 (EINVAL), or in a sandbox that filters madvise: the faults it is.
    for (std::size_t at = 0; at < kSlabBytes; at += 4096) static_cast<volatile char*>(slab)[at] = 0;
    return slab;
}

void ChunkSlabs::prepare_spare() noexcept {
    spare_wanted_.store(false, std::memory_order_release);
    {
        std::lock_guard lock(mutex_);
        if (spare_ != nullptr) return;
    }
    void* slab = map_slab();
    if (slab == nullptr) return;
    {
        std::lock_guard lock(mutex_);
        if (spare_ == nullptr) {
            reserved_.fetch_add(kSlabBytes, std::memory_order_relaxed);
            spare_ = slab;
            return;
        }
    }
    give_back(static_cast<char*>(slab));  // a recording thread mapped one meanwhile
}

ThreadBuffer::Chunk* ChunkSlabs::allocate() noexcept {
    static_assert(std::is_trivially_destructible_v<ThreadBuffer::Chunk>);
    constexpr std::size_t kSize = (sizeof(ThreadBuffer::Chunk) + 63) & ~std::size_t{63};
    bool took_spare = false;
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            if (left_ >= kSize) {
                void* memory = next_;
                next_ += kSize;
                left_ -= kSize;
                lock.unlock();
                if (took_spare) {
                    spare_wanted_.store(true, std::memory_order_release);
                    if (spare_taken_) spare_taken_();
                }
                return new (memory) ThreadBuffer::Chunk();
            }
            if (spare_ != nullptr) {
                next_ = static_cast<char*>(spare_);
                left_ = kSlabBytes;
                spare_ = nullptr;
                took_spare = true;
                continue;
            }
        }
        // No spare ready (the worker is behind, or there is no worker): map one here.
        void* slab = map_slab();
        if (slab == nullptr) return nullptr;
        std::lock_guard lock(mutex_);
        reserved_.fetch_add(kSlabBytes, std::memory_order_relaxed);
        if (spare_ == nullptr) {
            spare_ = slab;  // taken on the next round (or by whoever gets there first)
        } else {
            next_ = static_cast<char*>(slab);  // two threads mapped at once: use this one now
            left_ = kSlabBytes;
        }
    }
}

std::size_t ThreadBuffer::read_from(std::size_t from,
                                    const std::function<void(const Event&)>& fn) const {
    const std::size_t end = published();
    std::size_t index = 0;
    for (const Chunk* chunk = head_; chunk != nullptr && index < end;
         chunk = chunk->next.load(std::memory_order_acquire)) {
        const std::size_t chunk_end = std::min(end, index + kChunkEvents);
        for (std::size_t i = std::max(from, index); i < chunk_end; ++i) fn(chunk->events[i - index]);
        index += kChunkEvents;
    }
    return end;
}

EventLog::EventLog(std::uint64_t max_events) noexcept
    : generation_([] {
          static std::atomic<std::uint64_t> next{1};
          return next.fetch_add(1, std::memory_order_relaxed);
      }()),
      max_events_(max_events) {}

namespace {

std::uint64_t this_thread_key() noexcept {
    return std::hash<std::thread::id>{}(std::this_thread::get_id());
}

/// The calling thread's buffers, one per recent log; handed back when the thread exits.
struct ThreadBuffers {
    struct Entry {
        std::uint64_t generation = 0;
        ThreadBuffer* buffer = nullptr;
        std::shared_ptr<BufferRegistry> registry;
    };
    static constexpr int kEntries = 4;
    Entry entries[kEntries];
    unsigned next_victim = 0;

    ~ThreadBuffers() {
        const std::uint64_t key = this_thread_key();
        for (Entry& entry : entries)
            if (entry.registry) entry.registry->release(key, entry.buffer);
    }
};

}  // namespace

ThreadBuffer& BufferRegistry::acquire(std::uint64_t thread_key) {
    std::lock_guard lock(mutex);
    if (auto it = by_thread.find(thread_key); it != by_thread.end()) return *it->second;
    ThreadBuffer* buffer = nullptr;
    if (!free.empty()) {
        buffer = free.back();  // its previous thread has exited: one writer at a time
        free.pop_back();
    } else {
        // Numbered across the process, not per session: two sessions (two managers, or one
        // after another) hand out different span ids, so an id from one is no span of the other.
        static std::atomic<std::uint32_t> buffers_made{0};
        const auto slot = buffers_made.fetch_add(1, std::memory_order_relaxed) % 0xFFFFF + 1;  // 1 .. 2^20-1
        buffers.push_back(std::make_unique<ThreadBuffer>(slot));
        buffer = buffers.back().get();
    }
    by_thread[thread_key] = buffer;
    return *buffer;
}

void BufferRegistry::release(std::uint64_t thread_key, ThreadBuffer* buffer) noexcept {
    try {
        std::lock_guard lock(mutex);
        auto it = by_thread.find(thread_key);
        if (it == by_thread.end() || it->second != buffer) return;
        by_thread.erase(it);
        free.push_back(buffer);
    } catch (...) {
        // Out of memory at thread exit: the buffer simply stays unused.
    }
}

ThreadBuffer& EventLog::local() {
    thread_local ThreadBuffers cache;
    for (const auto& entry : cache.entries)
        if (entry.generation == generation_) return *entry.buffer;
    ThreadBuffer& buffer = registry_->acquire(this_thread_key());
    // An evicted entry keeps its buffer mapped to this thread (no hand-back): if this thread
    // comes back to that log, acquire() finds the same buffer again.
    cache.entries[cache.next_victim++ % ThreadBuffers::kEntries] = {generation_, &buffer, registry_};
    return buffer;
}

std::shared_ptr<SharedLane> EventLog::open_lane() { return std::make_shared<SharedLane>(registry_); }

namespace {

/// Registry keys of lanes: the top bit keeps them apart from thread keys (hashes of pthread_t,
/// which are addresses).
std::uint64_t next_lane_key() noexcept {
    static std::atomic<std::uint64_t> next{0};
    return (std::uint64_t{1} << 63) | next.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

SharedLane::SharedLane(std::shared_ptr<BufferRegistry> registry)
    : registry_(std::move(registry)), key_(next_lane_key()), buffer_(&registry_->acquire(key_)) {}

SharedLane::~SharedLane() { registry_->release(key_, buffer_); }

std::uint64_t EventLog::limit_for(EventType type) const noexcept {
    // An end closes a span whose begin was within the budget: ends go past it (at most one per
    // begin), so a span that began is never left running for want of room to end it.
    return type == EventType::end ? 2 * max_events_ : max_events_;
}

std::uint64_t EventLog::reserve(std::uint64_t wanted, std::uint64_t limit) noexcept {
    std::uint64_t reserved = events_reserved_.load(std::memory_order_relaxed);
    std::uint64_t grant = 0;
    do {
        if (reserved >= max_events_) wanted = 1;  // past the budget (ends): one at a time, none idle
        grant = std::min(wanted, limit > reserved ? limit - reserved : 0);
    } while (grant > 0 && !events_reserved_.compare_exchange_weak(reserved, reserved + grant,
                                                                  std::memory_order_relaxed));
    return grant;
}

bool EventLog::append(ThreadBuffer& buffer, const Event& event) noexcept {
    if (buffer.tail_used_ == buffer.tail_capacity_) {
        // Out of budget for this chunk: widen the tail chunk's share, or start a new chunk.
        // Event i of a buffer always lives in chunk i / kChunkEvents.
        const bool tail_has_room =
            buffer.tail_ != nullptr && buffer.tail_capacity_ < ThreadBuffer::kChunkEvents;
        const std::uint64_t grant =
            reserve(tail_has_room ? ThreadBuffer::kChunkEvents - buffer.tail_capacity_
                                  : ThreadBuffer::kChunkEvents,
                    limit_for(event.type));
        if (grant == 0) {
            buffer.dropped_.fetch_add(1, std::memory_order_relaxed);
            return false;
        }
        if (tail_has_room) {
            buffer.tail_capacity_ += grant;
        } else {
            auto* chunk = registry_->slabs.allocate();
            if (chunk == nullptr) {
                events_reserved_.fetch_sub(grant, std::memory_order_relaxed);
                buffer.dropped_.fetch_add(1, std::memory_order_relaxed);
                return false;
            }
            if (buffer.tail_ == nullptr) {
                buffer.head_ = chunk;
            } else {
                buffer.tail_->next.store(chunk, std::memory_order_release);
            }
            buffer.tail_ = chunk;
            buffer.tail_used_ = 0;
            buffer.tail_capacity_ = grant;
        }
    }
    buffer.tail_->events[buffer.tail_used_++] = event;
    buffer.count_.fetch_add(1, std::memory_order_release);
    return true;
}

bool EventLog::admit(ThreadBuffer& buffer, EventType type) noexcept {
    if (buffer.tail_used_ < buffer.tail_capacity_ ||
        events_reserved_.load(std::memory_order_relaxed) < limit_for(type))
        return true;
    buffer.dropped_.fetch_add(1, std::memory_order_relaxed);
    return false;
}

std::vector<ThreadBuffer*> EventLog::buffers() const {
    std::lock_guard lock(registry_->mutex);
    std::vector<ThreadBuffer*> out;
    out.reserve(registry_->buffers.size());
    for (const auto& buffer : registry_->buffers) out.push_back(buffer.get());
    return out;
}

std::vector<Event> EventLog::snapshot() const {
    std::vector<Event> events;
    events.reserve(recorded());
    for (const ThreadBuffer* buffer : buffers())
        buffer->read_from(0, [&](const Event& event) { events.push_back(event); });
    return events;
}

std::uint64_t EventLog::dropped() const noexcept {
    std::uint64_t total = 0;
    for (const ThreadBuffer* buffer : buffers()) total += buffer->dropped();
    return total;
}

std::uint64_t EventLog::recorded() const noexcept {
    std::uint64_t total = 0;
    for (const ThreadBuffer* buffer : buffers()) total += buffer->published();
    return total;
}

std::size_t EventLog::memory_bytes() const noexcept {
    std::size_t total = registry_->slabs.bytes_reserved();
    for (const ThreadBuffer* buffer : buffers()) total += buffer->arena_.bytes_reserved();
    return total;
}

}  // namespace sop_telemetry::detail
