using System.Text;
using Microsoft.AspNetCore.DataProtection.EntityFrameworkCore;
using Microsoft.AspNetCore.Identity.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;

namespace Portal.Data;

/// <summary>
/// The portal's database. EF Core reads and writes; the schema itself comes only from the SQL files in
/// <c>migrations/</c>, so nothing here creates or alters a table.
/// </summary>
public sealed class PortalDbContext(DbContextOptions<PortalDbContext> options) : IdentityDbContext<PortalUser>(options), IDataProtectionKeyContext
{
    /// <summary>
    /// The data-protection key ring, shared by every instance: cookies, antiforgery tokens and invitation links made
    /// by one instance are read by any other, whatever machine or home folder it runs in.
    /// </summary>
    public DbSet<DataProtectionKey> DataProtectionKeys => Set<DataProtectionKey>();

    public DbSet<DiagnosticSession> Sessions => Set<DiagnosticSession>();

    public DbSet<Run> Runs => Set<Run>();

    public DbSet<StoredResult> Results => Set<StoredResult>();

    public DbSet<ApiKey> ApiKeys => Set<ApiKey>();

    public DbSet<StoredFinding> Findings => Set<StoredFinding>();

    public DbSet<Note> Notes => Set<Note>();

    public DbSet<Presence> Presence => Set<Presence>();

    public DbSet<ShareLink> ShareLinks => Set<ShareLink>();

    public DbSet<Setting> Settings => Set<Setting>();

    public DbSet<Webhook> Webhooks => Set<Webhook>();

    public DbSet<WebhookDelivery> WebhookDeliveries => Set<WebhookDelivery>();

    /// <inheritdoc />
    protected override void OnModelCreating(ModelBuilder builder)
    {
        base.OnModelCreating(builder);

        builder.Entity<DiagnosticSession>(e =>
        {
            e.ToTable("sessions");
            e.HasIndex(s => s.TokenHash).IsUnique();
            e.HasMany(s => s.Runs).WithOne().HasForeignKey(r => r.SessionId);
        });
        builder.Entity<Run>(e =>
        {
            e.ToTable("runs");
            e.HasMany(r => r.Results).WithOne().HasForeignKey(r => r.RunId);
        });
        builder.Entity<StoredResult>(e =>
        {
            e.ToTable("results");
            e.Property(r => r.Metrics).HasColumnType("jsonb");
            e.Property(r => r.Detail).HasColumnType("jsonb");
            e.HasIndex(r => new { r.SessionId, r.ReceivedAt });
        });
        builder.Entity<ApiKey>(e =>
        {
            e.ToTable("api_keys");
            e.HasIndex(k => k.KeyHash).IsUnique();
        });
        builder.Entity<StoredFinding>(e =>
        {
            e.ToTable("findings");
            e.HasKey(f => new { f.RunId, f.Code });
            e.Property(f => f.Evidence).HasColumnType("jsonb");
        });
        builder.Entity<Note>().ToTable("notes");
        builder.Entity<Presence>(e =>
        {
            e.ToTable("presence");
            e.HasKey(p => p.CircuitId);
        });
        builder.Entity<ShareLink>().ToTable("share_links");
        builder.Entity<Setting>(e =>
        {
            e.ToTable("settings");
            e.HasKey(s => s.Key);
            e.Property(s => s.Value).HasColumnType("jsonb");
        });
        builder.Entity<Webhook>().ToTable("webhooks");
        builder.Entity<WebhookDelivery>(e =>
        {
            e.ToTable("webhook_deliveries");
            e.Property(d => d.Payload).HasColumnType("jsonb");
        });

        // One naming rule for every table, column, key and index: snake_case, as PostgreSQL prefers.
        foreach (var entity in builder.Model.GetEntityTypes())
        {
            entity.SetTableName(ToSnakeCase(entity.GetTableName()!));
            foreach (var property in entity.GetProperties())
            {
                property.SetColumnName(ToSnakeCase(property.Name));
            }

            foreach (var key in entity.GetKeys())
            {
                key.SetName(ToSnakeCase(key.GetName()!));
            }

            foreach (var foreignKey in entity.GetForeignKeys())
            {
                foreignKey.SetConstraintName(ToSnakeCase(foreignKey.GetConstraintName()!));
            }

            foreach (var index in entity.GetIndexes())
            {
                index.SetDatabaseName(ToSnakeCase(index.GetDatabaseName()!));
            }
        }
    }

    internal static string ToSnakeCase(string name)
    {
        var sb = new StringBuilder(name.Length + 8);
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (char.IsUpper(c))
            {
                var previousIsLower = i > 0 && (char.IsLower(name[i - 1]) || char.IsDigit(name[i - 1]));
                var nextIsLower = i + 1 < name.Length && char.IsLower(name[i + 1]);
                if (i > 0 && name[i - 1] != '_' && (previousIsLower || (nextIsLower && char.IsUpper(name[i - 1]))))
                {
                    sb.Append('_');
                }

                sb.Append(char.ToLowerInvariant(c));
            }
            else
            {
                sb.Append(c);
            }
        }

        return sb.ToString();
    }
}
