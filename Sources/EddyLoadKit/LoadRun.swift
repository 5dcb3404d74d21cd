import Foundation

/// One run: connect the subscribers (here or in worker processes), publish, drain, tally.
public enum LoadRun {
    public static func run(_ spec: LoadSpec, workerExecutable: String? = nil, log: @Sendable (String) -> Void = { _ in }) async throws -> LoadReport {
        let rssBefore = residentKiB(spec.serverPIDs)
        let notBefore = nowNanoseconds()
        let subscribers: any SubscriberSide
        if spec.workers > 0 {
            subscribers = try await WorkerSet.start(spec, executable: workerExecutable ?? "/proc/self/exe", notBefore: notBefore)
        } else {
            subscribers = try await SubscriberPool.connect(spec.subscribers, range: 0..<spec.subscribers.count, loops: spec.loops, notBefore: notBefore)
        }
        log("subscribers ready")
        try await Task.sleep(for: .seconds(spec.settle))
        let rssConnected = residentKiB(spec.serverPIDs)
        let serverBefore = spec.serverPIDs.isEmpty ? nil : ThreadCPU.read(spec.serverPIDs)
        let toolPIDs = [getpid()] + subscribers.processIDs
        let toolCPUBefore = cpuSeconds(toolPIDs)
        var published = PublishResult()
        published.succeededByTopic = Array(repeating: 0, count: max(spec.publish.topics, 1))
        if spec.publish.count > 0 {
            published = try await Publisher.run(spec.publish)
            log("published \(published.succeeded) of \(published.sent)")
        } else {
            published.started = nowNanoseconds()
            published.finished = published.started
        }
        try await Task.sleep(for: .seconds(spec.hold + spec.drain))
        let serverAfter = spec.serverPIDs.isEmpty ? nil : ThreadCPU.read(spec.serverPIDs)
        let toolCPUAfter = cpuSeconds(toolPIDs)
        let tally = try await subscribers.finish()
        var report = LoadReport(
            subscribers: tally, publish: published, rssBeforeKiB: rssBefore, rssConnectedKiB: rssConnected,
            rssAfterKiB: residentKiB(spec.serverPIDs))
        if let serverBefore, let serverAfter {
            report.serverCPUSeconds = serverAfter.processSeconds - serverBefore.processSeconds
            report.serverCPUByThread = ThreadCPU.seconds(from: serverBefore, to: serverAfter)
        }
        if let toolCPUBefore, let toolCPUAfter { report.toolCPUSeconds = toolCPUAfter - toolCPUBefore }
        return report
    }

    /// The summed user and system CPU time of `pids`, from `/proc/<pid>/stat`; nil without pids.
    /// Unlike throughput, the CPU a server spends per publish or per delivery hardly moves when
    /// a neighbour on a shared machine takes cores away, so it compares runs of different hours.
    public static func cpuSeconds(_ pids: [Int32]) -> Double? {
        guard !pids.isEmpty else { return nil }
        return Double(pids.compactMap(cpuTicks(pid:)).reduce(0, +)) / ThreadCPU.ticksPerSecond
    }

    /// utime + stime of process `pid`, all its threads (exited ones too); nil when it is gone.
    static func cpuTicks(pid: Int32) -> Int? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return nil }
        return cpuTicks(statLine: stat)
    }

    /// utime + stime of a `/proc/<pid>/stat` line. The command name in parentheses may hold
    /// spaces and parentheses, so the fields are counted from the last `)`.
    static func cpuTicks(statLine: String) -> Int? {
        guard let close = statLine.lastIndex(of: ")") else { return nil }
        // After ")": state is field 3, so utime (14) and stime (15) are the 12th and 13th.
        let fields = statLine[statLine.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Int(fields[11]), let system = Int(fields[12]) else { return nil }
        return user + system
    }

    /// The summed VmRSS of `pids`, from `/proc/<pid>/status`; nil without pids.
    public static func residentKiB(_ pids: [Int32]) -> Int? {
        guard !pids.isEmpty else { return nil }
        var total = 0
        for pid in pids {
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
                let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
                let kib = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
            else { continue }
            total += kib
        }
        return total
    }
}

protocol SubscriberSide: Sendable {
    /// Processes other than this one that hold subscribers, whose CPU is the load tool's too.
    var processIDs: [Int32] { get }
    /// The tally so far; the connections are closed afterwards.
    func finish() async throws -> SubscriberTally
}

extension SubscriberPool: SubscriberSide {
    var processIDs: [Int32] { [] }

    func finish() async throws -> SubscriberTally {
        let tally = try await snapshot()
        await close()
        return tally
    }
}

/// What a worker process is told on its first stdin line.
public struct WorkerAssignment: Codable, Sendable {
    public var subscribers: SubscriberSpec
    public var lower: Int
    public var upper: Int
    public var loops: Int
    public var notBefore: UInt64
}

/// Worker side of the line protocol: read the assignment, connect, `READY`, wait for `STOP`,
/// answer `RESULT <json>`. Separate processes because each may hold at most 20,000 files.
public enum Worker {
    public static func serve() async throws {
        let input = LineReader(FileHandle.standardInput)
        guard let line = await input.next() else { return }
        let assignment = try JSONDecoder().decode(WorkerAssignment.self, from: Data(line.utf8))
        let pool = try await SubscriberPool.connect(
            assignment.subscribers, range: assignment.lower..<assignment.upper, loops: assignment.loops, notBefore: assignment.notBefore)
        write("READY")
        _ = await input.next()
        let tally = try await pool.snapshot()
        write("RESULT " + String(decoding: try JSONEncoder().encode(tally), as: UTF8.self))
        await pool.close()
    }

    /// A coordinator that has gone away is no reason to crash: the result just has no reader.
    static func write(_ line: String) {
        try? FileHandle.standardOutput.write(contentsOf: Data((line + "\n").utf8))
    }
}

/// Worker processes, each holding an even share of the subscribers. Used by one run at a time,
/// from one task, hence unchecked.
final class WorkerSet: SubscriberSide, @unchecked Sendable {
    private let processes: [(Process, FileHandle, LineReader)]

    private init(processes: [(Process, FileHandle, LineReader)]) {
        self.processes = processes
    }

    static func start(_ spec: LoadSpec, executable: String, notBefore: UInt64) async throws -> WorkerSet {
        var processes: [(Process, FileHandle, LineReader)] = []
        let count = spec.subscribers.count
        for worker in 0..<spec.workers {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = ["worker"]
            let input = Pipe()
            let output = Pipe()
            process.standardInput = input
            process.standardOutput = output
            try process.run()
            let assignment = WorkerAssignment(
                subscribers: spec.subscribers, lower: count * worker / spec.workers, upper: count * (worker + 1) / spec.workers,
                loops: spec.loops, notBefore: notBefore)
            input.fileHandleForWriting.write(try JSONEncoder().encode(assignment) + Data("\n".utf8))
            processes.append((process, input.fileHandleForWriting, LineReader(output.fileHandleForReading)))
        }
        for (process, _, reader) in processes {
            guard await reader.next() == "READY" else { throw WorkerFailure(pid: process.processIdentifier) }
        }
        return WorkerSet(processes: processes)
    }

    var processIDs: [Int32] { processes.map { $0.0.processIdentifier } }

    func finish() async throws -> SubscriberTally {
        for (_, input, _) in processes { try? input.write(contentsOf: Data("STOP\n".utf8)) }
        var total = SubscriberTally()
        for (process, input, reader) in processes {
            guard let line = await reader.next(), line.hasPrefix("RESULT ") else { throw WorkerFailure(pid: process.processIdentifier) }
            total.merge(try JSONDecoder().decode(SubscriberTally.self, from: Data(line.dropFirst(7).utf8)))
            try? input.close()
            process.waitUntilExit()
        }
        return total
    }

    struct WorkerFailure: Error, CustomStringConvertible {
        var pid: Int32
        var description: String { "worker \(pid) ended without answering" }
    }
}

/// Blocking line reads on a dispatch thread, so the few cooperative threads are never blocked.
final class LineReader: @unchecked Sendable {
    private let handle: FileHandle
    /// Touched only by the one read in flight.
    private var buffer = Data()

    init(_ handle: FileHandle) {
        self.handle = handle
    }

    func next() async -> String? {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: self.blockingNext())
            }
        }
    }

    private func blockingNext() -> String? {
        while true {
            if let newline = buffer.firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex...newline)
                return line
            }
            let chunk = handle.availableData
            if chunk.isEmpty { return nil }
            buffer.append(chunk)
        }
    }
}
