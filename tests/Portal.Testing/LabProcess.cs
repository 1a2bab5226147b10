using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Portal.Testing;

/// <summary>
/// A real lab server from Debian's packages (nginx, HAProxy, stunnel…) run in the foreground with a configuration
/// written by the test into its own folder; stopped and its folder removed on dispose.
/// </summary>
public sealed class LabProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    private LabProcess(Process process, string folder)
    {
        _process = process;
        Folder = folder;
    }

    /// <summary>The folder holding the configuration and the server's files.</summary>
    public string Folder { get; }

    /// <summary>What the server printed.</summary>
    public IReadOnlyList<string> Output => [.. _output];

    /// <summary>
    /// Writes the configuration (<c>{folder}</c> in it is replaced by the folder), starts the program with the
    /// arguments (<c>{config}</c> and <c>{folder}</c> replaced) and waits until the port accepts connections.
    /// </summary>
    /// <param name="program">The program's name, looked up in the system's binary folders.</param>
    /// <param name="configuration">The configuration, written to <c>{folder}/{program}.conf</c>.</param>
    /// <param name="arguments">The program's arguments.</param>
    /// <param name="port">A port the server listens on once it is ready.</param>
    /// <param name="files">Other files to write into the folder first (certificates, included configuration), by name.</param>
    /// <param name="prepare">Runs with the folder once the files are written, before the server starts.</param>
    public static async Task<LabProcess> StartAsync(
        string program, string configuration, string[] arguments, int port, IReadOnlyDictionary<string, string>? files = null, Func<string, Task>? prepare = null)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var path = Find(program)
            ?? throw new InvalidOperationException($"{program} is not installed: the README's test command installs it (scripts/prerequisites.sh --tests).");
        var folder = TempFolder.Create($"portal-lab-{program}");
        // Servers that drop root privileges (Squid, Varnish) write into the folder as their own user.
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(folder, (UnixFileMode)0x1FF);
        }
        foreach (var (name, text) in files ?? new Dictionary<string, string>())
        {
            await File.WriteAllTextAsync(Path.Combine(folder, name), text.Replace("{folder}", folder, StringComparison.Ordinal));
        }

        var config = Path.Combine(folder, program + ".conf");
        await File.WriteAllTextAsync(config, configuration.Replace("{folder}", folder, StringComparison.Ordinal) + "\n");
        if (prepare is not null)
        {
            await prepare(folder);
        }
        var info = new ProcessStartInfo(path) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument.Replace("{config}", config, StringComparison.Ordinal).Replace("{folder}", folder, StringComparison.Ordinal));
        }

        var process = Process.Start(info)!;
        var lab = new LabProcess(process, folder);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lab._output.Enqueue(e.Data); } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lab._output.Enqueue(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            if (process.HasExited)
            {
                await process.WaitForExitAsync();
                var output = string.Join('\n', lab.Output);
                await lab.DisposeAsync();
                throw new InvalidOperationException($"{program} exited at start:\n{output}");
            }

            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, port);
                return lab;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
        }
    }

    /// <summary>The program's full path in the system's binary folders, or null when it is not installed.</summary>
    public static string? Find(string program) =>
        new[] { "/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/lib/squid" }.Select(d => Path.Combine(d, program)).FirstOrDefault(File.Exists);

    /// <summary>Runs a program to completion (a lab preparation step) and fails with its output when it fails.</summary>
    public static async Task RunAsync(string program, params string[] arguments)
    {
        var info = new ProcessStartInfo(Find(program) ?? program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} failed ({process.ExitCode}):\n{await output}{await errors}");
        }
    }

    /// <summary>Stops the server and removes its folder.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        // What the server printed, next to the test assembly, for reading after a failure.
        await File.WriteAllLinesAsync(Path.Combine(AppContext.BaseDirectory, $"lab-{Path.GetFileName(_process.StartInfo.FileName)}.log"), Output);
        _process.Dispose();
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
            // A server may still be writing its pid file; the folder is in the temporary directory anyway.
        }
    }
}
