using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Portal.Data.Embedded;
using Portal.Testing;

namespace Portal.Data.Tests.Embedded;

public sealed class EmbeddedPostgresTests : IDisposable
{
    private readonly string _root = TempFolder.Create("embedded");

    [Fact]
    public async Task StartAsync_StopThenStartAgain_DataIsStillThere()
    {
        var options = new EmbeddedPostgresOptions { DataDirectory = _root, Fsync = false };
        var first = await EmbeddedPostgres.StartAsync(options, NullLogger.Instance);
        await using (var connection = new NpgsqlConnection(first.ConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here');", connection);
            await command.ExecuteNonQueryAsync();
        }

        await first.StopAsync();
        await Should.ThrowAsync<NpgsqlException>(async () =>
        {
            await using var closed = new NpgsqlConnection(first.ConnectionString);
            await closed.OpenAsync();
        });

        await using var second = await EmbeddedPostgres.StartAsync(options, NullLogger.Instance);
        await using var again = new NpgsqlConnection(second.ConnectionString);
        await again.OpenAsync();
        await using var read = new NpgsqlCommand("SELECT v FROM kept", again);
        (await read.ExecuteScalarAsync()).ShouldBe("still here");
        new NpgsqlConnectionStringBuilder(second.ConnectionString).Host.ShouldBe("127.0.0.1");
    }

    [Fact]
    public async Task StartAsync_NoServerBinaries_SaysHowToInstallOrConnect()
    {
        var missing = new EmbeddedPostgresOptions { DataDirectory = _root, BinDirectory = Path.Combine(_root, "no-such-bin") };

        var ex = await Should.ThrowAsync<EmbeddedPostgresException>(() => EmbeddedPostgres.StartAsync(missing, NullLogger.Instance));

        ex.Message.ShouldContain("apt-get install -y postgresql");
        ex.Message.ShouldContain("ConnectionStrings__Portal");
        Directory.Exists(Path.Combine(_root, "pg")).ShouldBeFalse();
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
