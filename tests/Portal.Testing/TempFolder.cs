using System.Diagnostics;

namespace Portal.Testing;

/// <summary>
/// Temporary folders for test files (the test PostgreSQL cluster, certificates and their private keys, proxy
/// configurations), all inside one folder per test process, <c>portal-tests-…</c> in the temp directory.
/// </summary>
/// <remarks>
/// A detached reaper removes the folder when the process ends, and every test process starts by removing the folders
/// of processes that are gone (the reaper too may be killed, with the machine's session), stopping a PostgreSQL
/// server left running in one. Before, an exit handler was to remove it, but the test runner kills the test host
/// before such handlers finish: each run left its cluster behind (200 to 700 MB), and a day of runs filled the disk.
/// </remarks>
public static class TempFolder
{
    private const string Prefix = "portal-tests-";
    private const string OwnerFile = "owner";

    /// <summary>
    /// Waits for the owner process (<c>$1</c>; none when empty) to end, stops the PostgreSQL servers with clusters in
    /// the folder (<c>$2</c>) by SIGQUIT, PostgreSQL's immediate shutdown (their data is thrown away), and removes it.
    /// </summary>
    private const string CleanUp = """
        owner=$1 root=$2
        while [ -n "$owner" ] && kill -0 "$owner" 2>/dev/null; do sleep 1; done
        postgres() { grep -q postgres "/proc/$1/cmdline" 2>/dev/null; }
        stopped=
        for file in $(find "$root" -name postmaster.pid 2>/dev/null); do
          pid=$(head -n 1 "$file")
          postgres "$pid" && kill -QUIT "$pid" && stopped="$stopped $pid"
        done
        for pid in $stopped; do
          tries=0
          while kill -0 "$pid" 2>/dev/null && [ "$tries" -lt 50 ]; do sleep 0.2; tries=$((tries + 1)); done
          postgres "$pid" && kill -KILL "$pid"
        done
        rm -rf "$root"
        """;

    private static readonly Lock Sync = new();
    private static string? _root;

    /// <summary>This process's folder, created (and abandoned folders removed) on first use.</summary>
    public static string Root
    {
        get
        {
            lock (Sync)
            {
                if (_root is null)
                {
                    RemoveAbandoned(Path.GetTempPath());
                    _root = Path.Combine(Path.GetTempPath(), Prefix + Guid.NewGuid().ToString("N")[..12]);
                    // Open to traverse whatever the umask: the cluster's server and the lab's proxies run as other users.
                    Directory.CreateDirectory(_root);
                    if (!OperatingSystem.IsWindows())
                    {
                        File.SetUnixFileMode(_root, (UnixFileMode)0x1ED); // rwxr-xr-x
                    }

                    File.WriteAllText(Path.Combine(_root, OwnerFile), OwnerOf(Environment.ProcessId));
                    StartReaper(_root);
                }

                return _root;
            }
        }
    }

    /// <summary>Creates an empty folder named <paramref name="prefix"/> plus a random suffix inside <see cref="Root"/>.</summary>
    public static string Create(string prefix)
    {
        var folder = Path.Combine(Root, $"{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        return folder;
    }

    /// <summary>
    /// Removes the <c>portal-tests-…</c> folders in <paramref name="tempDirectory"/> whose owning process has exited,
    /// first stopping any PostgreSQL server still running on a cluster inside one. Returns the folders removed.
    /// </summary>
    public static IReadOnlyList<string> RemoveAbandoned(string tempDirectory)
    {
        var removed = new List<string>();
        if (!Directory.Exists("/proc/self"))
        {
            // No way to tell a live owner from a dead one: leave every folder.
            return removed;
        }

        foreach (var folder in Directory.EnumerateDirectories(tempDirectory, Prefix + "*"))
        {
            if (new DirectoryInfo(folder).LinkTarget is not null)
            {
                // Not one of ours: nothing is followed out of the temp directory.
                continue;
            }

            var ownerPath = Path.Combine(folder, OwnerFile);
            string owner;
            try
            {
                owner = File.ReadAllText(ownerPath);
            }
            catch (FileNotFoundException)
            {
                // No owner yet: a process that is creating it right now, or a folder from before owners were
                // recorded. Only an hour of silence tells them apart.
                if (Directory.GetLastWriteTimeUtc(folder) > DateTime.UtcNow.AddHours(-1))
                {
                    continue;
                }

                owner = "";
            }
            catch (IOException)
            {
                continue;
            }

            if (IsAlive(owner))
            {
                continue;
            }

            // Its owner is gone: clean up now, as its reaper would have.
            using (var cleanUp = Process.Start("sh", ["-c", CleanUp, "clean-up", "", folder]))
            {
                cleanUp.WaitForExit();
            }

            if (!Directory.Exists(folder))
            {
                removed.Add(folder);
            }
        }

        return removed;
    }

    /// <summary>
    /// What a folder records of its owner: the process's id and start time, so that a reused id is not taken for the
    /// owner.
    /// </summary>
    public static string OwnerOf(int pid) => $"{pid} {StartTime(pid)}";

    private static bool IsAlive(string owner)
    {
        var parts = owner.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return parts.Length == 2 && int.TryParse(parts[0], out var pid) && StartTime(pid) is { } started && started == parts[1];
    }

    /// <summary>Field 22 of <c>/proc/PID/stat</c>: when the process started, in clock ticks since boot.</summary>
    private static string? StartTime(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // The command name (field 2) is in parentheses and may hold spaces; the fields after it do not.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return fields[19];
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>
    /// Starts a detached shell that waits for this process to end, however it ends, then stops the servers with
    /// clusters in <paramref name="root"/> (immediately: their data is thrown away) and removes the folder. An exit
    /// handler cannot do it: the test runner kills the test host within a fraction of a second of its last result.
    /// </summary>
    private static void StartReaper(string root)
    {
        // The outer shell starts the reaper in a session of its own and returns, so the reaper is nobody's child
        // when the runner kills this process (and its children) and holds none of its output pipes.
        using var launcher = Process.Start(
            "sh",
            ["-c", "setsid sh -c \"$1\" reaper \"$2\" \"$3\" </dev/null >/dev/null 2>&1 &", "launcher", CleanUp,
                Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture), root]);
        launcher.WaitForExit();
    }
}
