using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Portal.Data.Embedded;
using Portal.Testing;

namespace Portal.Data.Tests.Testing;

/// <summary>
/// The test kit's clean-up of what earlier test processes left in the temp directory: their PostgreSQL clusters, up to
/// 700 MB each, once filled the disk.
/// </summary>
public sealed class TempFolderTests
{
    [Fact]
    public async Task RemoveAbandoned_DeadOwnersFoldersGoAndTheirServerStops_LiveAndNewFoldersStay()
    {
        var temp = TempFolder.Create("sweep");
        var dead = Folder(temp, "portal-tests-dead", await ExitedProcessOwnerAsync());
        var reused = Folder(temp, "portal-tests-reused", $"{Environment.ProcessId} 1");
        var live = Folder(temp, "portal-tests-live", TempFolder.OwnerOf(Environment.ProcessId));
        var unowned = Folder(temp, "portal-tests-unowned", owner: null);
        var other = Folder(temp, "someone-else", owner: null);
        var elsewhere = Folder(TempFolder.Create("elsewhere"), "portal-tests-target", await ExitedProcessOwnerAsync());
        var link = Path.Combine(temp, "portal-tests-link");
        Directory.CreateSymbolicLink(link, elsewhere);
        var server = await EmbeddedPostgres.StartAsync(
            new EmbeddedPostgresOptions { DataDirectory = Path.Combine(dead, "postgres"), Fsync = false }, NullLogger.Instance);
        var pidFile = await File.ReadAllLinesAsync(Path.Combine(dead, "postgres", "pg", "postmaster.pid"));
        var postmaster = int.Parse(pidFile[0], System.Globalization.CultureInfo.InvariantCulture);

        var removed = TempFolder.RemoveAbandoned(temp);

        removed.Order().ShouldBe([dead, reused]);
        Directory.Exists(dead).ShouldBeFalse();
        Directory.Exists(reused).ShouldBeFalse();
        Directory.Exists(live).ShouldBeTrue();
        Directory.Exists(unowned).ShouldBeTrue("a folder without an owner may be one another process is creating");
        Directory.Exists(other).ShouldBeTrue();
        Directory.Exists(link).ShouldBeTrue("a link is not followed out of the temp directory");
        File.Exists(Path.Combine(elsewhere, "owner")).ShouldBeTrue();
        Directory.Exists($"/proc/{postmaster}").ShouldBeFalse("the abandoned cluster's server is stopped");
        await Should.ThrowAsync<NpgsqlException>(async () =>
        {
            await using var connection = new NpgsqlConnection(server.ConnectionString);
            await connection.OpenAsync();
        });
    }

    private static string Folder(string temp, string name, string? owner)
    {
        var folder = Path.Combine(temp, name);
        Directory.CreateDirectory(folder);
        if (owner is not null)
        {
            File.WriteAllText(Path.Combine(folder, "owner"), owner);
        }

        return folder;
    }

    /// <summary>The owner record of a process that has since exited.</summary>
    private static async Task<string> ExitedProcessOwnerAsync()
    {
        using var process = Process.Start("sleep", "30");
        var owner = TempFolder.OwnerOf(process.Id);
        process.Kill();
        await process.WaitForExitAsync();
        return owner;
    }
}
