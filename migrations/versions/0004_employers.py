"""employers: ROME reference table (filled from the shipped CSV), folded sector for filtering, job opening indexes.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from toit_emploi_api.reference.codes import load_rome_codes
from toit_emploi_api.reference.text import fold

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    rome_codes = op.create_table(
        "rome_codes",
        sa.Column("code", sa.String(length=5), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("label_folded", sa.String(length=200), nullable=False),
        sa.CheckConstraint("code ~ '^[A-N][0-9]{4}$'", name=op.f("ck_rome_codes_code_format")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_rome_codes")),
    )
    # Reference data shipped in the package (src/toit_emploi_api/reference/rome_codes.csv, read through
    # importlib.resources and validated by load_rome_codes). A later change of the CSV needs its own revision.
    op.bulk_insert(
        rome_codes,
        [{"code": code, "label": label, "label_folded": fold(label)} for code, label in load_rome_codes().items()],
    )

    op.add_column("employers", sa.Column("sector_folded", sa.String(length=100), nullable=True))
    conn = op.get_bind()
    for employer_id, sector in conn.execute(sa.text("SELECT id, sector FROM employers WHERE sector IS NOT NULL")):
        conn.execute(
            sa.text("UPDATE employers SET sector_folded = :folded WHERE id = :id"),
            {"folded": fold(sector), "id": employer_id},
        )
    op.create_index("ix_employers_sector_folded", "employers", ["sector_folded"], unique=False)
    op.create_index("ix_employers_created_at", "employers", ["created_at"], unique=False)
    op.create_index("ix_job_openings_created_at", "job_openings", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_job_openings_created_at", table_name="job_openings")
    op.drop_index("ix_employers_created_at", table_name="employers")
    op.drop_index("ix_employers_sector_folded", table_name="employers")
    op.drop_column("employers", "sector_folded")
    op.drop_table("rome_codes")
