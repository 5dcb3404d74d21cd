import Foundation

/// CPU time by thread name, for telling which part of a server (or of the load tool) a
/// workload costs: event loops, a cooperative pool, a database writer.
public struct ThreadCPU: Sendable, Equatable {
    /// Clock ticks by thread name, summed over threads of the same name and over the processes.
    public var ticksByName: [String: Int] = [:]
    /// Clock ticks of the processes as a whole, including threads that have exited.
    public var processTicks = 0

    /// Name given to the CPU of threads that exited between two readings: the process's time
    /// keeps it, no live thread does.
    public static let exitedThreads = "(exited)"

    static var ticksPerSecond: Double { Double(sysconf(Int32(_SC_CLK_TCK))) }

    /// The processes' user and system time, in seconds.
    public var processSeconds: Double { Double(processTicks) / Self.ticksPerSecond }

    /// Reads `/proc/<pid>/task/*/stat` of each of `pids`.
    public static func read(_ pids: [Int32]) -> ThreadCPU {
        var reading = ThreadCPU()
        for pid in pids {
            guard let ticks = LoadRun.cpuTicks(pid: pid) else { continue }
            reading.processTicks += ticks
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
            for task in tasks {
                guard let line = try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/stat", encoding: .utf8),
                    let (name, ticks) = nameAndTicks(statLine: line)
                else { continue }
                reading.ticksByName[name, default: 0] += ticks
            }
        }
        return reading
    }

    /// A thread's name (the command in parentheses, spaces made underscores so a summary line
    /// stays one `key=value`) and its utime + stime.
    static func nameAndTicks(statLine: String) -> (String, Int)? {
        guard let open = statLine.firstIndex(of: "("), let close = statLine.lastIndex(of: ")"), open < close,
            let ticks = LoadRun.cpuTicks(statLine: statLine)
        else { return nil }
        let name = statLine[statLine.index(after: open)..<close].replacingOccurrences(of: " ", with: "_")
        return (name, ticks)
    }

    /// Seconds each thread name used from `earlier` to `later`, with what exited threads used
    /// under `exitedThreads`. Names that used nothing are left out.
    public static func seconds(from earlier: ThreadCPU, to later: ThreadCPU) -> [String: Double] {
        var used: [String: Int] = [:]
        for (name, ticks) in later.ticksByName {
            let delta = ticks - (earlier.ticksByName[name] ?? 0)
            // A name whose threads exited can read lower than before; the process total keeps it.
            if delta > 0 { used[name] = delta }
        }
        let exited = (later.processTicks - earlier.processTicks) - used.values.reduce(0, +)
        if exited > 0 { used[exitedThreads] = exited }
        return used.mapValues { Double($0) / Self.ticksPerSecond }
    }
}
