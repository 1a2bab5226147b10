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
    public static async Task<LabProcess> StartAsync(string program, string configuration, string[] arguments, int port)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var path = new[] { "/usr/sbin", "/usr/bin", "/sbin", "/bin" }.Select(d => Path.Combine(d, program)).FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException($"{program} is not installed: the README's test command installs it (scripts/prerequisites.sh --tests).");
        var folder = Path.Combine(Path.GetTempPath(), $"portal-lab-{program}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        var config = Path.Combine(folder, program + ".conf");
        await File.WriteAllTextAsync(config, configuration.Replace("{folder}", folder, StringComparison.Ordinal) + "\n");
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

    /// <summary>Stops the server and removes its folder.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

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
