using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Portal.Data.Migrations;
using Portal.Testing;

namespace Portal.Data.Tests.Migrations;

public class MigrationRunnerTests
{
    private static MigrationRunner Runner(NpgsqlDataSource dataSource) => new(dataSource, NullLogger<MigrationRunner>.Instance);

    private static async Task<long> ScalarAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task RunAsync_FreshDatabase_AppliesEverySchemaFileAndJournalsIt()
    {
        await using var dataSource = NpgsqlDataSource.Create(await PostgresServer.CreateEmptyDatabaseAsync("fresh"));
        var scripts = MigrationScript.Embedded();

        var applied = await Runner(dataSource).RunAsync(scripts);

        scripts.ShouldNotBeEmpty();
        applied.ShouldBe(scripts.Select(s => s.Name).ToList());
        (await ScalarAsync(dataSource, "SELECT count(*) FROM schema_migrations")).ShouldBe(scripts.Count);
        (await ScalarAsync(dataSource, "SELECT count(*) FROM information_schema.tables WHERE table_name IN ('sessions','runs','results','api_keys','asp_net_users')")).ShouldBe(5);
    }

    [Fact]
    public async Task RunAsync_SecondRun_ChangesNothing()
    {
        await using var dataSource = NpgsqlDataSource.Create(await PostgresServer.CreateEmptyDatabaseAsync("second"));
        await Runner(dataSource).RunAsync(MigrationScript.Embedded());
        var journalBefore = await ScalarAsync(dataSource, "SELECT count(*) FROM schema_migrations");

        var applied = await Runner(dataSource).RunAsync(MigrationScript.Embedded());

        applied.ShouldBeEmpty();
        (await ScalarAsync(dataSource, "SELECT count(*) FROM schema_migrations")).ShouldBe(journalBefore);
    }

    [Fact]
    public async Task RunAsync_AppliedFileChanged_RefusesAndNamesTheFile()
    {
        await using var dataSource = NpgsqlDataSource.Create(await PostgresServer.CreateEmptyDatabaseAsync("changed"));
        await Runner(dataSource).RunAsync([new("2026-01-01_00_a.sql", "CREATE TABLE a (id int);")]);

        var ex = await Should.ThrowAsync<MigrationChecksumException>(() =>
            Runner(dataSource).RunAsync([new("2026-01-01_00_a.sql", "CREATE TABLE a (id bigint);"), new("2026-01-01_01_b.sql", "CREATE TABLE b (id int);")]));

        ex.Files.ShouldBe(["2026-01-01_00_a.sql"]);
        ex.Message.ShouldContain("2026-01-01_00_a.sql");
        ex.Message.ShouldContain("new file");
        (await ScalarAsync(dataSource, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'b'")).ShouldBe(0);
    }

    [Fact]
    public async Task RunAsync_CrlfCheckoutOfSameFile_NotTakenForAChange()
    {
        await using var dataSource = NpgsqlDataSource.Create(await PostgresServer.CreateEmptyDatabaseAsync("crlf"));
        await Runner(dataSource).RunAsync([new("2026-01-01_00_a.sql", "CREATE TABLE a (id int);\nCREATE TABLE c (id int);\n")]);

        var applied = await Runner(dataSource).RunAsync([new("2026-01-01_00_a.sql", "CREATE TABLE a (id int);\r\nCREATE TABLE c (id int);\r\n")]);

        applied.ShouldBeEmpty();
    }

    [Fact]
    public async Task RunAsync_FailingFile_RolledBackWholeAndNotJournaled()
    {
        await using var dataSource = NpgsqlDataSource.Create(await PostgresServer.CreateEmptyDatabaseAsync("failing"));

        await Should.ThrowAsync<PostgresException>(() =>
            Runner(dataSource).RunAsync([new("2026-01-01_00_bad.sql", "CREATE TABLE half (id int); SELECT * FROM missing_table;")]));

        (await ScalarAsync(dataSource, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'half'")).ShouldBe(0);
        (await ScalarAsync(dataSource, "SELECT count(*) FROM schema_migrations")).ShouldBe(0);
    }

    [Fact]
    public async Task RunAsync_TwoRunnersAtOnce_ApplyEachFileOnce()
    {
        await using var dataSource = NpgsqlDataSource.Create(await PostgresServer.CreateEmptyDatabaseAsync("race"));
        // Not idempotent on purpose: a second application would fail or add a second row.
        MigrationScript[] scripts =
        [
            new("2026-01-01_00_table.sql", "CREATE TABLE applied (n int); SELECT pg_sleep(0.3);"),
            new("2026-01-01_01_row.sql", "INSERT INTO applied VALUES (1);"),
        ];

        var results = await Task.WhenAll(Runner(dataSource).RunAsync(scripts), Runner(dataSource).RunAsync(scripts));

        results.Sum(r => r.Count).ShouldBe(2);
        (await ScalarAsync(dataSource, "SELECT count(*) FROM applied")).ShouldBe(1);
        (await ScalarAsync(dataSource, "SELECT count(*) FROM schema_migrations")).ShouldBe(2);
    }
}
