using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Portal.Testing;

namespace Portal.Web.Tests.Features.Operations;

/// <summary>A start that fails leaves nothing behind: the portal says why, exits non-zero and stops the PostgreSQL it started.</summary>
public class StartupTests
{
    [Fact]
    public async Task Start_WebPortTaken_ExitsNamingTheAddressAndStopsItsEmbeddedPostgres()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var data = TempFolder.Create("portal-port-taken");
        var info = new ProcessStartInfo("dotnet", [PortalProcess.WebAssembly]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        info.Environment["Portal__DataDirectory"] = data;
        info.Environment["Portal__Bootstrap__AdminEmail"] = "admin@portal.test";
        info.Environment["Portal__Bootstrap__AdminPassword"] = PortalProcess.AdminPassword;
        info.Environment.Remove("ConnectionStrings__Portal");

        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);

        process.ExitCode.ShouldBe(3, await output + await errors);
        (await errors).ShouldContain($"127.0.0.1:{port}");
        (await errors).ShouldContain("address already in use");
        (await output).ShouldContain("embedded PostgreSQL");
        // No process of the embedded cluster is left holding its data folder.
        var left = Directory.EnumerateDirectories("/proc").Select(d => Path.Combine(d, "cmdline"))
            .Where(f => { try { return File.ReadAllText(f).Contains(data, StringComparison.Ordinal); } catch (IOException) { return false; } catch (UnauthorizedAccessException) { return false; } })
            .ToList();
        left.ShouldBeEmpty();
    }
}
