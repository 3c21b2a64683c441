package dev.lockstep.kubesim;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;

/**
 * Every request the simulated API server answered, in order: what tests use to prove that nothing
 * was written and benchmarks use to count requests per unit. Bounded: the oldest entries are
 * dropped past {@link #capacity()}.
 */
public final class RequestLog {
  private final int capacity;
  private final AtomicLong seq = new AtomicLong();
  private final List<RequestRecord> records = new ArrayList<>();

  RequestLog(int capacity) {
    this.capacity = capacity;
  }

  /** The most entries kept. */
  public int capacity() {
    return capacity;
  }

  long nextSeq() {
    return seq.incrementAndGet();
  }

  synchronized void add(RequestRecord record) {
    records.add(record);
    if (records.size() > capacity) {
      records.subList(0, records.size() - capacity).clear();
    }
  }

  /** The sequence number of the newest entry: pass it to {@link #since} to see what follows. */
  public long mark() {
    return seq.get();
  }

  /** Every entry kept, oldest first. */
  public synchronized List<RequestRecord> all() {
    return List.copyOf(records);
  }

  /** Entries after the given mark. */
  public synchronized List<RequestRecord> since(long mark) {
    return records.stream().filter(r -> r.seq() > mark).toList();
  }

  /** Entries matching a predicate. */
  public synchronized List<RequestRecord> matching(Predicate<RequestRecord> predicate) {
    return records.stream().filter(predicate).toList();
  }

  /**
   * Requests after the mark that changed stored state: the answer to "was anything written?".
   * (kubesim's own controllers work in process and are not in the log.)
   */
  public List<RequestRecord> writesSince(long mark) {
    return since(mark).stream().filter(RequestRecord::changedState).toList();
  }

  /** Forgets every entry (sequence numbers keep counting). */
  public synchronized void clear() {
    records.clear();
  }
}
